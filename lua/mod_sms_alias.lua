-- mod_sms_alias: phone numbers on the users' own domain, served by goippy.
--
-- Users of example.org chat with +37255512345@example.org. goippy, the SMS
-- gateway, is a component serving +37255512345@sms.example.org. This module
-- makes the two one contact:
--
--   outbound  a stanza to +N@example.org (also 00N@…, and any other +…
--             localpart, which goippy then explains is no number) from a
--             local session is copied, re-addressed to +N@sms.example.org
--             and re-posted; the original is consumed before mod_blocklist
--             (100), mod_mam (0) and mod_message (-1) could treat +N as a
--             (missing) local user. Outgoing archiving and carbons already
--             happened in the pre-message stage, with the JID written.
--             A message or presence carries the JID the user wrote in a
--             private <addressed/> element; for an iq the module remembers
--             it until the answer comes.
--   inbound   a stanza from +N@sms.example.org to a local user gets its
--             `from` rewritten in place, first of all handlers, so
--             blocklist, MAM, carbons and clients see the JID the user
--             knows: an answer goippy marked with <addressed jid='…'/> (or
--             the answer to an iq the module forwarded) comes from the JID
--             the user wrote to — their client keeps one conversation and
--             finds its receipts and errors — and anything else (an SMS
--             arriving) from the canonical alias +N@example.org. The
--             <addressed/> element is removed from every stanza delivered.
--   bounces   errors Prosody itself sends back for the re-posted copy
--             (goippy not connected) go through a wrapper around the
--             sender's session that rewrites their `from` the same way.
--   remote    senders on other servers get service-unavailable: goippy
--             serves only users of its own XMPP_DOMAIN whose localpart is
--             an enabled extension (whose SIM pays, whose ACL applies), so
--             it would refuse them anyway; here they are refused before
--             they cost goippy anything, with a text that says why.
--
-- Every decision about addresses is made by the native library
-- (sms_alias_native, Rust, the rules goippy itself uses); this file only
-- wires those answers into Prosody's events. See README.md next to it.
--
-- Cost: every stanza to a user of the host (and to a number) passes both
-- hooks, so the common case — a stanza between users, from no number and to
-- none — is turned away in a few byte comparisons, before any call into the
-- native library (see `may_be_alias` and `may_be_goippy`), and the number
-- cases do only what they must.

local st = require "util.stanza";
local jid_bare = require "util.jid".bare;
local jid_host = require "util.jid".host;
local lfs = require "lfs";

local byte, find, sub = string.byte, string.find, string.sub;

local NATIVE_NAME = "sms_alias_native";
local NATIVE_FILE = NATIVE_NAME .. ".so";
local NATIVE_ENTRY = "luaopen_" .. NATIVE_NAME;
local NATIVE_LUA_VERSION = "5.4";

-- Both hooks sit on all six routing events (message, presence and iq, to
-- bare and full JIDs) of this host: an alias is addressed like a user, so
-- no narrower event catches it, and nothing from goippy reaches a user
-- without passing one of them.
-- Above mod_blocklist (100), mod_mam (0) and mod_message (-1): the stanza
-- to a number is consumed before they could treat +N as a local user.
local OUTBOUND_PRIORITY = 500;
-- Above everything, outbound included: nothing may see the component JID
-- or the <addressed/> mark.
local INBOUND_PRIORITY = 1000;

local component = module:get_option_string("sms_alias_component", "sms." .. module.host);
local country_code = module:get_option_string("sms_alias_country_code");
local native_path = module:get_option_path("sms_alias_native_path", nil, "config");

-- COMPAT: sms_alias_allow_remote (mod_sms_alias 0.1.0) let users of other
-- servers reach goippy, which refuses every sender that is not an enabled
-- extension of its own domain: the option could only turn a clear refusal
-- into goippy's `forbidden`. It is ignored now; say so once, at load.
if module:get_option_boolean("sms_alias_allow_remote", nil) ~= nil then
	module:log("warn", "sms_alias_allow_remote is no longer supported and is ignored: "
		.. "goippy serves only its own domain's users, so users of other servers are always refused. "
		.. "Remove it from the configuration.");
end

local function is_file(path)
	return lfs.attributes(path, "mode") == "file";
end

-- Where the native library may be, in order: the configured path (a file,
-- or a directory holding sms_alias_native.so), this module's directory
-- (manual installs), the `prosodyctl install` tree (Prosody 0.12 never adds
-- its lib/lua/5.4 to package.cpath), then package.cpath.
-- The configured candidate is returned second, to warn when it is missing.
local function native_candidates()
	local candidates, configured = {}, nil;
	if native_path then
		if lfs.attributes(native_path, "mode") == "directory" then
			configured = native_path .. "/" .. NATIVE_FILE;
		else
			configured = native_path;
		end
		candidates[1] = configured;
	end
	local module_dir = module:get_directory();
	if module_dir then
		candidates[#candidates + 1] = module_dir .. "/" .. NATIVE_FILE;
	end
	local installer = prosody.paths and prosody.paths.installer;
	if installer then
		candidates[#candidates + 1] = installer .. "/lib/lua/" .. NATIVE_LUA_VERSION .. "/" .. NATIVE_FILE;
	end
	local from_cpath = package.searchpath(NATIVE_NAME, package.cpath);
	if from_cpath then
		candidates[#candidates + 1] = from_cpath;
	end
	return candidates, configured;
end

-- Returns the native library's table and the path it came from, or nil and
-- one message saying what is wrong and where it looked.
local function load_native()
	if _VERSION ~= "Lua " .. NATIVE_LUA_VERSION then
		return nil, ("the native library %s is built for Lua %s, but Prosody runs on %s")
			:format(NATIVE_FILE, NATIVE_LUA_VERSION, tostring(_VERSION));
	end
	local candidates, configured = native_candidates();
	for _, path in ipairs(candidates) do
		if is_file(path) then
			local open, err = package.loadlib(path, NATIVE_ENTRY);
			if not open then
				return nil, ("cannot load %s: %s"):format(path, tostring(err));
			end
			local ok, lib = pcall(open);
			if not ok or type(lib) ~= "table" or type(lib.new_rules) ~= "function" then
				return nil, ("%s did not open as %s: %s"):format(path, NATIVE_NAME, tostring(lib));
			end
			return lib, path;
		end
		if path == configured then
			module:log("warn", "sms_alias_native_path %s is not a file; searching elsewhere", path);
		end
	end
	local looked = #candidates > 0 and table.concat(candidates, ", ") or "(nowhere)";
	return nil, ("cannot find the native library %s; looked in: %s, and package.cpath %q. "
		.. "Install mod_sms_alias with prosodyctl, or set sms_alias_native_path")
		:format(NATIVE_FILE, looked, package.cpath);
end

local native, native_where = load_native();
if not native then
	error("mod_sms_alias: " .. native_where, 0);
end

local rules, rules_err = native.new_rules({
	host = module.host;
	component = component;
	country_code = country_code;
});
if not rules then
	error(("mod_sms_alias: invalid settings on %s: %s"):format(module.host, tostring(rules_err)), 0);
end

module:log("info", "Loaded %s %s from %s: %s", NATIVE_NAME, native.version(), native_where, tostring(rules));

-- The private element goippy and this module mark answers with, as the
-- native library defines it (one definition for both sides).
local ADDRESSED = native.addressed;
if type(ADDRESSED) ~= "table" or type(ADDRESSED.ns) ~= "string" then
	error(("mod_sms_alias: %s at %s is older than this module (it lacks the <addressed/> mark); "
		.. "install both from the same mod_sms_alias rock and restart Prosody"):format(NATIVE_FILE, native_where), 0);
end
if type(native.alias_node_first_bytes) ~= "string" then
	error(("mod_sms_alias: %s at %s is older than this module (it lacks alias_node_first_bytes); "
		.. "install both from the same mod_sms_alias rock and restart Prosody"):format(NATIVE_FILE, native_where), 0);
end

-- The common case costs a few byte comparisons; these two tests decide it.
-- Each answers true for everything the native library could act on (and
-- sometimes more: then the library decides, as it always did).

-- The bytes an alias's localpart can start with, as the native library
-- states them ("+0": +N, any other +…, 00N, national 0N). The first byte of
-- a JID with a localpart is the localpart's first byte, and a JID without
-- one is no alias: a stanza to any other first byte is no stanza to a
-- number.
local ALIAS_FIRST_BYTE = {};
for i = 1, #native.alias_node_first_bytes do
	ALIAS_FIRST_BYTE[byte(native.alias_node_first_bytes, i)] = true;
end

local function may_be_alias(to)
	return type(to) == "string" and ALIAS_FIRST_BYTE[byte(to, 1)] == true;
end

-- Whether `from` can be goippy: its host (after the first `@` before the
-- first `/`, up to that `/`; both util.jid and the native library split
-- this way) is as long as the component domain, as the native library
-- compares it (case-insensitively, settings normalised) or as this file
-- does (the option as written). A stanza from a user of this host never
-- gets further (unless the component's domain is as long as this host's,
-- which costs only the native library's answer, as before).
local COMPONENT_LENGTH = { [#rules.component] = true, [#component] = true };

local function may_be_goippy(from)
	if type(from) ~= "string" then
		return false;
	end
	local slash = find(from, "/", 1, true);
	local at = find(from, "@", 1, true);
	local host_start = (at and (not slash or at < slash)) and at + 1 or 1;
	local host_end = slash and slash - 1 or #from;
	return COMPONENT_LENGTH[host_end - host_start + 1] == true;
end

local MARK_NAME, MARK_NS, MARK_ATTR = ADDRESSED.name, ADDRESSED.ns, ADDRESSED.attr;

-- The first <addressed/> child, as stanza:get_child(MARK_NAME, MARK_NS)
-- finds it, without a method call or an iterator: every stanza is searched.
local function find_mark(stanza)
	local tags = stanza.tags;
	for i = 1, #tags do
		local tag = tags[i];
		if tag.name == MARK_NAME and tag.attr.xmlns == MARK_NS then
			return tag;
		end
	end
end

local function strip_marks(stanza)
	if find_mark(stanza) then
		stanza:remove_children(MARK_NAME, MARK_NS);
		return true;
	end
end

-- The mark for the bare JID a user wrote to (one rewrite_to accepted, so
-- its host is this host in some letter case). util.stanza's constructor
-- checks every name and value it is given, with several pattern scans per
-- string (about 2 µs for the mark). The constant parts and this host pass
-- those checks here, once, at load; a JID of digits after `+` or `0` on
-- this host then passes them too, and its mark is built as the constructor
-- would build it. Any other JID goes through the constructor and its checks.
local stanza_mt = getmetatable(st.stanza(MARK_NAME, { xmlns = MARK_NS, [MARK_ATTR] = module.host }));

local function new_mark(bare_written)
	if bare_written and find(bare_written, "^[+0]%d+@") then
		return setmetatable({ name = MARK_NAME, attr = { xmlns = MARK_NS, [MARK_ATTR] = bare_written }, tags = {} },
			stanza_mt);
	end
	return st.stanza(MARK_NAME, { xmlns = MARK_NS, [MARK_ATTR] = bare_written });
end

-- Iq requests forwarded to goippy, until their answer comes: an iq cannot
-- carry the <addressed/> mark (goippy reads exactly one payload), so the
-- module remembers which JID the user wrote to. Bounded: the oldest of
-- IQ_MEMORY entries is forgotten first (its answer then keeps the JID it
-- has, and a client may miss it: an iq is answered within seconds, so only
-- a flood of unanswered iqs comes that far).
local IQ_MEMORY = 1024;
local pending_iqs, iq_order, iq_head, iq_tail = {}, {}, 1, 1;

local function iq_key(user, id)
	return tostring(user) .. "\0" .. tostring(id);
end

local function remember_iq(user, id, target, written)
	if not (user and id) then return; end
	local key = iq_key(user, id);
	local entry = { target = target, written = written };
	pending_iqs[key] = entry;
	iq_order[iq_tail] = { key = key, entry = entry };
	iq_tail = iq_tail + 1;
	if iq_tail - iq_head > IQ_MEMORY then
		local oldest = iq_order[iq_head];
		iq_order[iq_head] = nil;
		iq_head = iq_head + 1;
		if pending_iqs[oldest.key] == oldest.entry then
			pending_iqs[oldest.key] = nil;
		end
	end
end

-- The JID the user wrote the request to that `answer` (an iq result or
-- error from goippy) answers, or nil when the module did not forward it.
local function recall_iq(answer)
	local key = iq_key(answer.attr.to, answer.attr.id);
	local entry = pending_iqs[key];
	if entry and entry.target == answer.attr.from then
		pending_iqs[key] = nil;
		return entry.written;
	end
end

-- The wrappers' metatables, one per sender's session for all its
-- stanzas (weak keys: it goes with the session).
local wrapper_meta = setmetatable({}, { __mode = "k" });

-- A wrapper around the sender's session, for one re-posted stanza, whose
-- send() makes what Prosody bounces for it (mod_component's "not
-- connected", a routing error) come from the JID the user wrote to.
local function rewriting_bounces(origin, target, written)
	local meta = wrapper_meta[origin];
	if not meta then
		meta = { __index = origin };
		wrapper_meta[origin] = meta;
	end
	return setmetatable({
		send = function (stanza, ...)
			local from = stanza.attr.from;
			local shown = from == target and written or rules:rewrite_from(from);
			if shown then
				module:log("debug", "Bounce %s from %s now from %s", stanza.name, from, shown);
				stanza.attr.from = shown;
			end
			strip_marks(stanza);
			return origin.send(stanza, ...);
		end;
	}, meta);
end

-- The stanza to re-post: its own top element (attributes, and the list of
-- children the mark is added to), over the very children of `stanza`, as
-- st.clone(stanza) would give them but without copying them. Allocation is
-- what a stanza costs Prosody most (its collector starts a cycle after 5%
-- of the heap is allocated again), and a client's message has several
-- children. Sharing them is safe because nothing changes them: this module
-- adds and removes children of the copy only, and the original is
-- consumed — what holds it from earlier stages (mod_mam, mod_carbons)
-- holds it as it was when the user sent it.
local function forward_copy(stanza)
	local copy = st.clone(stanza, true);
	local tags, n_tags = copy.tags, 0;
	for i = 1, #stanza do
		local child = stanza[i];
		copy[i] = child;
		if child.name then
			n_tags = n_tags + 1;
			tags[n_tags] = child;
		end
	end
	return copy;
end

local function is_remote(origin)
	local kind = origin.type;
	return type(kind) == "string" and kind:sub(1, 3) == "s2s";
end

-- Remote senders get what they would get for a user that does not exist:
-- service-unavailable for messages and requests, silence for presence and
-- for errors and results (never answer those).
local function refuse_remote(origin, stanza)
	module:log("debug", "Refusing %s from remote %s to %s", stanza.name, stanza.attr.from, stanza.attr.to);
	local kind = stanza.attr.type;
	if stanza.name == "presence" or kind == "error" or kind == "result" then
		return true;
	end
	origin.send(st.error_reply(stanza, "cancel", "service-unavailable",
		"The SMS gateway of " .. module.host .. " serves its own users only"));
	return true;
end

-- The bare form of `written`, a JID rewrite_to accepted: the JID itself
-- unless it has a resource, as util.jid.bare would give it (the native
-- library accepted it, so its node and host hold no `@` or `/`).
local function bare_alias(written)
	if find(written, "/", 1, true) then
		return jid_bare(written);
	end
	return written;
end

local function outbound(event)
	local stanza, origin = event.stanza, event.origin;
	local written = stanza.attr.to;
	if not may_be_alias(written) then
		return; -- to a user of this host, or to the host: normal routing
	end
	local target = rules:rewrite_to(written);
	if not target then
		return; -- not an alias: normal routing
	end
	if is_remote(origin) then
		return refuse_remote(origin, stanza);
	end
	local clone = forward_copy(stanza);
	clone.attr.to = target;
	-- Only this module says what the user wrote: a mark the client put
	-- there itself is dropped.
	strip_marks(clone);
	if clone.name ~= "iq" then
		clone:add_direct_child(new_mark(bare_alias(written)));
	elseif clone.attr.type == "get" or clone.attr.type == "set" then
		remember_iq(clone.attr.from, clone.attr.id, target, written);
	end
	module:log("debug", "Outbound %s from %s to %s now to %s", stanza.name, stanza.attr.from, written, target);
	module:send(clone, rewriting_bounces(origin, target, written));
	return true;
end

-- What goippy delivered, by recipient and stanza id: goippy marks an inbox
-- row delivered only once Prosody has confirmed it, so a goippy that dies
-- between the two sends that row again after its restart, with the same
-- id (`goippy-in-<row>`). The second copy is dropped here, before mod_mam
-- or a client sees it. Bounded like the iq memory: the oldest of
-- DELIVERED_MEMORY entries is forgotten first (a resend comes within
-- seconds of the first copy, thousands of messages earlier at most).
local DELIVERED_MEMORY = 4096;
local DELIVERED_PREFIX = "goippy-in-";
local delivered, delivered_order, delivered_head, delivered_tail = {}, {}, 1, 1;

-- The id of a message goippy delivered from its inbox, else nil.
local function delivery_id(stanza)
	local id = stanza.attr.id;
	if stanza.name == "message" and type(id) == "string"
		and sub(id, 1, #DELIVERED_PREFIX) == DELIVERED_PREFIX then
		return id;
	end
end

local function seen_before(stanza, id)
	local key = tostring(jid_bare(stanza.attr.to)) .. "\0" .. id;
	if delivered[key] then
		return true;
	end
	delivered[key] = true;
	delivered_order[delivered_tail] = key;
	delivered_tail = delivered_tail + 1;
	if delivered_tail - delivered_head > DELIVERED_MEMORY then
		delivered[delivered_order[delivered_head]] = nil;
		delivered_order[delivered_head] = nil;
		delivered_head = delivered_head + 1;
	end
	return false;
end

local function inbound(event)
	local stanza = event.stanza;
	local from = stanza.attr.from;
	if not may_be_goippy(from) then
		-- From a user, another server or another component: nothing to
		-- drop, recall or rewrite (the native library would answer nil).
		-- A mark is removed all the same: no client ever sees one.
		strip_marks(stanza);
		return;
	end
	local id = delivery_id(stanza);
	if id and jid_host(from) == component and seen_before(stanza, id) then
		module:log("debug", "Dropping %s to %s: goippy sent it again after a restart",
			stanza.attr.id, stanza.attr.to);
		return true;
	end
	local mark = find_mark(stanza);
	local shown;
	if mark then
		-- Whoever sent it, the mark never reaches a client; only goippy's
		-- answers are believed, and only for a spelling of their own contact.
		strip_marks(stanza);
		shown = rules:answer_from(from, mark.attr[MARK_ATTR]);
	elseif stanza.name == "iq" and (stanza.attr.type == "result" or stanza.attr.type == "error") then
		shown = recall_iq(stanza);
		if not shown then
			-- An answer to a request the user wrote straight to goippy's
			-- JID: it must come from that JID, or the client drops it.
			return;
		end
	end
	shown = shown or rules:rewrite_from(from);
	if shown then
		module:log("debug", "Inbound %s to %s from %s now from %s", stanza.name, stanza.attr.to, from, shown);
		stanza.attr.from = shown;
	end
	-- No return value: delivery continues, now from the JID the user knows.
end

for _, name in ipairs({ "message", "presence", "iq" }) do
	for _, to_type in ipairs({ "bare", "full" }) do
		module:hook(name .. "/" .. to_type, inbound, INBOUND_PRIORITY);
		module:hook(name .. "/" .. to_type, outbound, OUTBOUND_PRIORITY);
	end
end
