-- mod_sms_alias: phone numbers on the users' own domain, served by goippy.
--
-- Users of example.org chat with +37255512345@example.org. goippy, the SMS
-- gateway, is a component serving +37255512345@sms.example.org. This module
-- makes the two one contact:
--
--   outbound  a stanza to +N@example.org from a local session is cloned,
--             re-addressed to +N@sms.example.org and re-posted; the original
--             is consumed before mod_blocklist (100), mod_mam (0) and
--             mod_message (-1) could treat +N as a (missing) local user.
--             Outgoing archiving and carbons already happened in the
--             pre-message stage, with the alias JID.
--   inbound   a stanza from +N@sms.example.org to a local user gets its
--             `from` rewritten to +N@example.org in place, first of all
--             handlers, so blocklist, MAM, carbons and clients see the alias.
--   bounces   errors Prosody itself sends back for the re-posted clone
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

local st = require "util.stanza";
local lfs = require "lfs";

local NATIVE_NAME = "sms_alias_native";
local NATIVE_FILE = NATIVE_NAME .. ".so";
local NATIVE_ENTRY = "luaopen_" .. NATIVE_NAME;
local NATIVE_LUA_VERSION = "5.4";

-- Above mod_blocklist (100) and mod_mam (0) on message/*, presence/*, iq/*.
local OUTBOUND_PRIORITY = 500;
-- Above everything, outbound included: nothing may see the component JID.
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

-- A session wrapper whose send() rewrites `from` of what Prosody bounces
-- (mod_component's "not connected", a routing error) to the alias before
-- the real send. One wrapper per session, collected with it.
local bounce_rewriters = setmetatable({}, { __mode = "k" });

local function rewriting_bounces(origin)
	local wrapper = bounce_rewriters[origin];
	if not wrapper then
		wrapper = setmetatable({
			send = function (stanza, ...)
				local alias = rules:rewrite_from(stanza.attr.from);
				if alias then
					module:log("debug", "Bounce %s from %s now from %s", stanza.name, stanza.attr.from, alias);
					stanza.attr.from = alias;
				end
				return origin.send(stanza, ...);
			end;
		}, { __index = origin });
		bounce_rewriters[origin] = wrapper;
	end
	return wrapper;
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

local function outbound(event)
	local stanza, origin = event.stanza, event.origin;
	local target = rules:rewrite_to(stanza.attr.to);
	if not target then
		return; -- not an alias: normal routing
	end
	if is_remote(origin) then
		return refuse_remote(origin, stanza);
	end
	local clone = st.clone(stanza);
	clone.attr.to = target;
	module:log("debug", "Outbound %s from %s to %s now to %s", stanza.name, stanza.attr.from, stanza.attr.to, target);
	module:send(clone, rewriting_bounces(origin));
	return true;
end

local function inbound(event)
	local stanza = event.stanza;
	local from = stanza.attr.from;
	local alias = rules:rewrite_from(from);
	if alias then
		module:log("debug", "Inbound %s to %s from %s now from %s", stanza.name, stanza.attr.to, from, alias);
		stanza.attr.from = alias;
	end
	-- No return value: delivery continues, now with the alias.
end

for _, name in ipairs({ "message", "presence", "iq" }) do
	for _, to_type in ipairs({ "bare", "full" }) do
		module:hook(name .. "/" .. to_type, inbound, INBOUND_PRIORITY);
		module:hook(name .. "/" .. to_type, outbound, OUTBOUND_PRIORITY);
	end
end
