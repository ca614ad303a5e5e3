-- Unit tests of what mod_sms_alias.lua itself decides: where it looks for the
-- native library, which origins may use the gateway, which events it hooks at
-- which priority, and how it re-addresses, consumes and rewrites stanzas.
--
-- The module file is run as Prosody runs it (a chunk whose environment has
-- `module`, with _G behind it) against a hand-rolled `module` API that records
-- hooks, sends and log lines. Stanzas are Prosody's real util.stanza, and the
-- native library is the real one: SMS_ALIAS_NATIVE names the built .so
-- (run-busted.sh builds it and sets it).
--
-- Run: lua/run-busted.sh   (or: SMS_ALIAS_NATIVE=… busted --lua=lua5.4 lua/spec)

package.path = "/usr/lib/prosody/?.lua;" .. package.path;
package.cpath = "/usr/lib/prosody/?.so;" .. package.cpath;

local st = require "util.stanza";

local here = debug.getinfo(1, "S").source:match("^@(.*)/spec/[^/]*$") or "lua";
local MODULE_FILE = here .. "/mod_sms_alias.lua";
local NATIVE = os.getenv("SMS_ALIAS_NATIVE");
assert(NATIVE and io.open(NATIVE), "set SMS_ALIAS_NATIVE to the built libsms_alias_native.so (lua/run-busted.sh does)");

local ALIAS = "+37255512345@example.org";
local TARGET = "+37255512345@sms.example.org";
-- goippy's private mark of the JID a user wrote to (goippy_core::alias).
local ADDRESSED_NS = "urn:goippy:sms-alias:addressed:0";
local ADDRESSED_NAME = "addressed";

-- A fresh directory for the running test, removed when that test ends
-- (also when it fails): each holds a copy of the native library.
local function tmpdir()
	local dir = os.tmpname();
	os.remove(dir);
	assert(os.execute("mkdir -p '" .. dir .. "'"));
	finally(function () os.execute("rm -rf '" .. dir .. "'"); end);
	return dir;
end

local function copy_native(dir)
	assert(os.execute(("cp '%s' '%s/sms_alias_native.so'"):format(NATIVE, dir)));
	return dir .. "/sms_alias_native.so";
end

-- Loads the module file with `options` (Prosody config options) and
-- `overrides` (globals such as _VERSION or package). Returns a harness, or
-- raises what the module raised.
local function load_module(options, overrides)
	options = options or {};
	local harness = { hooks = {}, sent = {}, logs = {}, context_hooks = {}, global_hooks = {},
		fired = {}, route_result = true };
	local api = {
		host = "example.org";
		get_option_string = function (_, name, default)
			local v = options[name];
			if v == nil then return default; end
			return tostring(v);
		end;
		get_option_boolean = function (_, name, default)
			local v = options[name];
			if v == nil then return default; end
			return v == true;
		end;
		get_option_path = function (_, name, default)
			return options[name] or default;
		end;
		get_directory = function ()
			return options.module_dir or "/nonexistent/module-dir";
		end;
		log = function (_, level, fmt, ...)
			table.insert(harness.logs, { level = level, text = fmt:format(...) });
		end;
		hook = function (_, event, handler, priority)
			table.insert(harness.hooks, { event = event, handler = handler, priority = priority or 0 });
		end;
		send = function (_, stanza, origin)
			table.insert(harness.sent, { stanza = stanza, origin = origin });
		end;
		context = function (_, host)
			return { hook = function (_, event, handler, priority)
				table.insert(harness.context_hooks, { host = host, event = event, handler = handler, priority = priority });
			end };
		end;
		hook_global = function (_, event, handler)
			table.insert(harness.global_hooks, { event = event, handler = handler });
		end;
		fire_event = function (_, name, data)
			table.insert(harness.fired, { name = name, data = data, from = data.stanza and data.stanza.attr.from });
			return harness.route_result;
		end;
	};
	local env = setmetatable({
		module = api;
		prosody = { paths = { installer = options.installer or "/nonexistent/installer" },
			hosts = options.hosts or {} };
		package = overrides and overrides.package or {
			cpath = "/nonexistent/cpath/?.so";
			searchpath = package.searchpath;
			loadlib = package.loadlib;
		};
	}, { __index = _G });
	for k, v in pairs(overrides or {}) do env[k] = v; end
	local chunk = assert(loadfile(MODULE_FILE, "t", env));
	chunk();

	-- Fires an event the way util.events does: handlers by descending
	-- priority until one returns non-nil.
	function harness.fire(name, event)
		local handlers = {};
		for _, h in ipairs(harness.hooks) do
			if h.event == name then table.insert(handlers, h); end
		end
		table.sort(handlers, function (a, b) return a.priority > b.priority; end);
		for _, h in ipairs(handlers) do
			local ret = h.handler(event);
			if ret ~= nil then return ret; end
		end
	end
	return harness;
end

local function loaded(options)
	options = options or {};
	options.sms_alias_native_path = options.sms_alias_native_path or NATIVE;
	return load_module(options);
end

-- A fake session that records what Prosody would write to it.
local function session(kind, extra)
	local s = { type = kind, host = "example.org", username = "alice", received = {} };
	function s.send(stanza) table.insert(s.received, stanza); return true; end
	for k, v in pairs(extra or {}) do s[k] = v; end
	return s;
end

local function load_error(options, overrides)
	local ok, err = pcall(load_module, options, overrides);
	assert.is_false(ok, "the module must refuse to load");
	return tostring(err);
end

describe("mod_sms_alias loading", function ()
	it("refuses to load on a Lua other than 5.4, saying so", function ()
		local err = load_error({ sms_alias_native_path = NATIVE }, { _VERSION = "Lua 5.3" });
		assert.matches("built for Lua 5.4, but Prosody runs on Lua 5.3", err, 1, true);
	end);

	it("says where it looked when the library is nowhere", function ()
		local err = load_error({ sms_alias_native_path = "/nonexistent/configured.so",
			installer = "/nonexistent/tree" });
		assert.matches("cannot find the native library sms_alias_native.so", err, 1, true);
		assert.matches("/nonexistent/configured.so", err, 1, true);
		assert.matches("/nonexistent/module-dir/sms_alias_native.so", err, 1, true);
		assert.matches("/nonexistent/tree/lib/lua/5.4/sms_alias_native.so", err, 1, true);
		assert.matches("/nonexistent/cpath/?.so", err, 1, true);
	end);

	it("loads the configured file and logs its version and path", function ()
		local m = loaded();
		local info;
		for _, l in ipairs(m.logs) do
			if l.level == "info" then info = l.text; end
		end
		assert.truthy(info);
		assert.matches("sms_alias_native %d+%.%d+%.%d+ from " .. NATIVE:gsub("%p", "%%%0"), info);
		assert.matches("example.org <-> sms.example.org", info, 1, true);
	end);

	it("accepts a directory as sms_alias_native_path", function ()
		local dir = tmpdir();
		copy_native(dir);
		assert.has_no.errors(function () load_module({ sms_alias_native_path = dir }); end);
	end);

	it("finds the library in the module's own directory", function ()
		local dir = tmpdir();
		local path = copy_native(dir);
		local m = load_module({ module_dir = dir });
		assert.matches(path, m.logs[#m.logs].text, 1, true);
	end);

	it("finds the library in the prosodyctl install tree, warning about a bad configured path", function ()
		local tree = tmpdir();
		assert(os.execute("mkdir -p '" .. tree .. "/lib/lua/5.4'"));
		copy_native(tree .. "/lib/lua/5.4");
		local m = load_module({ installer = tree, sms_alias_native_path = "/nonexistent/x.so" });
		assert.matches(tree .. "/lib/lua/5.4/sms_alias_native.so", m.logs[#m.logs].text, 1, true);
		assert.equal("warn", m.logs[1].level);
		assert.matches("/nonexistent/x.so is not a file", m.logs[1].text, 1, true);
	end);

	it("finds the library on package.cpath", function ()
		local dir = tmpdir();
		local path = copy_native(dir);
		local m = load_module({}, { package = {
			cpath = dir .. "/?.so"; searchpath = package.searchpath; loadlib = package.loadlib;
		} });
		assert.matches(path, m.logs[#m.logs].text, 1, true);
	end);

	it("reports a file that is not the library instead of crashing", function ()
		local dir = tmpdir();
		local f = assert(io.open(dir .. "/sms_alias_native.so", "w"));
		f:write("not an ELF file");
		f:close();
		local err = load_error({ sms_alias_native_path = dir .. "/sms_alias_native.so" });
		assert.matches("cannot load " .. dir .. "/sms_alias_native.so", err, 1, true);
	end);

	it("refuses invalid settings with the native library's reason", function ()
		local err = load_error({ sms_alias_native_path = NATIVE, sms_alias_country_code = "0372" });
		assert.matches("invalid settings on example.org: invalid country code", err, 1, true);
		err = load_error({ sms_alias_native_path = NATIVE, sms_alias_component = "example.org" });
		assert.matches("must differ", err, 1, true);
	end);

	it("refuses a native library older than itself, saying what to do", function ()
		local real = package.loadlib(NATIVE, "luaopen_sms_alias_native")();
		local old = {};
		for k, v in pairs(real) do old[k] = v; end
		old.alias_node_first_bytes = nil;
		local err = load_error({ sms_alias_native_path = NATIVE }, { package = {
			cpath = "/nonexistent/cpath/?.so";
			searchpath = package.searchpath;
			loadlib = function () return function () return old; end; end;
		} });
		assert.matches("older than this module (it lacks alias_node_first_bytes)", err, 1, true);
		assert.matches("install both from the same mod_sms_alias rock", err, 1, true);
	end);

	it("hooks all six routing events, inbound above outbound above mod_blocklist", function ()
		local m = loaded();
		local seen = {};
		for _, h in ipairs(m.hooks) do
			seen[h.event] = seen[h.event] or {};
			table.insert(seen[h.event], h.priority);
		end
		for _, name in ipairs({ "message", "presence", "iq" }) do
			for _, to in ipairs({ "bare", "full" }) do
				local prios = seen[name .. "/" .. to];
				assert.equal(2, #prios, name .. "/" .. to);
				table.sort(prios);
				assert.is_true(prios[1] > 100, "outbound must run before mod_blocklist (100)");
				assert.is_true(prios[2] > prios[1], "inbound must run before outbound");
			end
		end
	end);
end);

describe("mod_sms_alias outbound", function ()
	it("re-posts a message to the component and consumes the original", function ()
		local m = loaded();
		local alice = session("c2s");
		local msg = st.message({ to = ALIAS, from = "alice@example.org/phone", type = "chat", id = "m1" })
			:text_tag("body", "hello");
		assert.is_true(m.fire("message/bare", { origin = alice, stanza = msg }));
		assert.equal(1, #m.sent);
		local clone = m.sent[1].stanza;
		assert.equal(TARGET, clone.attr.to);
		assert.equal("alice@example.org/phone", clone.attr.from);
		assert.equal("hello", clone:get_child_text("body"));
		assert.equal("m1", clone.attr.id);
		assert.are_not.equal(msg, clone);
		assert.equal(ALIAS, msg.attr.to, "the original keeps the alias");
	end);

	it("forwards chat states, presence and iq too, to bare and full JIDs", function ()
		local m = loaded();
		local alice = session("c2s");
		local cases = {
			{ "message/bare", st.message({ to = ALIAS, type = "chat" })
				:tag("composing", { xmlns = "http://jabber.org/protocol/chatstates" }) },
			{ "message/full", st.message({ to = ALIAS .. "/x", type = "chat" })
				:tag("received", { xmlns = "urn:xmpp:receipts", id = "m1" }) },
			{ "presence/bare", st.presence({ to = ALIAS, type = "probe" }) },
			{ "presence/full", st.presence({ to = ALIAS .. "/x" }) },
			{ "iq/bare", st.iq({ to = ALIAS, type = "get", id = "i1" })
				:tag("query", { xmlns = "http://jabber.org/protocol/disco#info" }) },
			{ "iq/full", st.iq({ to = ALIAS .. "/x", type = "result", id = "i2" }) },
		};
		for i, case in ipairs(cases) do
			assert.is_true(m.fire(case[1], { origin = alice, stanza = case[2] }), case[1]);
			local expected = case[2].attr.to:gsub("@example%.org", "@sms.example.org");
			assert.equal(expected, m.sent[i].stanza.attr.to, case[1]);
		end
	end);

	it("applies the national rule when a country code is configured", function ()
		local m = loaded({ sms_alias_country_code = 372 });
		m.fire("message/bare", { origin = session("c2s"), stanza = st.message({ to = "055512345@example.org" }) });
		assert.equal(TARGET, m.sent[1].stanza.attr.to);
	end);

	it("leaves users alone", function ()
		local m = loaded();
		for _, to in ipairs({ "bob@example.org", "2001@example.org", "0012@example.org" }) do
			local ret = m.fire("message/bare", { origin = session("c2s"), stanza = st.message({ to = to }) });
			assert.is_nil(ret, to);
		end
		assert.equal(0, #m.sent);
	end);

	it("turns away what is no alias without consuming it, whatever its address", function ()
		local m = loaded({ sms_alias_country_code = 372 });
		-- nil: a stanza to the sender's own account (Prosody removes `to`).
		for _, to in ipairs({ false, "", "example.org", "alice@example.org/+372", "1@example.org",
			"+37255512345@other.test", "0037255512345@sms.example.org" }) do
			local msg = st.message({ type = "chat" }):text_tag("body", "hi");
			msg.attr.to = to or nil;
			assert.is_nil(m.fire("message/bare", { origin = session("c2s"), stanza = msg }), tostring(to));
		end
		assert.equal(0, #m.sent);
	end);

	it("forwards every spelling of a number, whichever byte it starts with", function ()
		local m = loaded({ sms_alias_country_code = 372 });
		for i, to in ipairs({ ALIAS, "0037255512345@example.org", "055512345@example.org",
			"+37255512345@EXAMPLE.org", ALIAS .. "/x" }) do
			assert.is_true(m.fire("message/bare", { origin = session("c2s"), stanza = st.message({ to = to }) }), to);
			assert.equal(to:find("/x", 1, true) and TARGET .. "/x" or TARGET, m.sent[i].stanza.attr.to, to);
		end
	end);

	it("re-posts a copy with the original's children and a mark, leaving the original as it was", function ()
		local m = loaded();
		local msg = st.message({ to = ALIAS, from = "alice@example.org/phone", type = "chat", id = "m9",
			["xml:lang"] = "en" })
			:text_tag("body", "hello")
			:tag("active", { xmlns = "http://jabber.org/protocol/chatstates" }):up()
			:tag("request", { xmlns = "urn:xmpp:receipts" }):up();
		local before = tostring(msg);
		m.fire("message/bare", { origin = session("c2s"), stanza = msg });
		local clone = m.sent[1].stanza;
		assert.equal(before, tostring(msg), "the original is untouched");
		assert.is_nil(msg:get_child(ADDRESSED_NAME, ADDRESSED_NS));
		-- The copy: the same attributes but `to`, the same children in order, then the mark.
		assert.equal(TARGET, clone.attr.to);
		for k, v in pairs(msg.attr) do
			if k ~= "to" then assert.equal(v, clone.attr[k], k); end
		end
		assert.equal(#msg + 1, #clone);
		assert.equal(#msg.tags + 1, #clone.tags);
		for i = 1, #msg do assert.equal(tostring(msg[i]), tostring(clone[i])); end
		assert.equal(clone[#clone], clone.tags[#clone.tags]);
		assert.equal(ADDRESSED_NAME, clone.tags[#clone.tags].name);
		assert.equal(ALIAS, clone.tags[#clone.tags].attr.jid);
	end);

	it("marks any +… localpart with the bare JID written, also when it is no number", function ()
		local m = loaded();
		for i, to in ipairs({ "+12@example.org", "+12@example.org/res", "+a b@example.org" }) do
			m.fire("message/full", { origin = session("c2s"), stanza = st.message({ to = to, type = "chat" }) });
			local mark = m.sent[i].stanza:get_child(ADDRESSED_NAME, ADDRESSED_NS);
			assert.equal((to:gsub("/res$", "")), mark.attr.jid, to);
		end
	end);

	it("hands goippy every +… localpart, so that goippy explains why it is no number", function ()
		local m = loaded();
		local msg = st.message({ to = "+12@example.org", type = "chat", id = "m2" }):text_tag("body", "hi");
		assert.is_true(m.fire("message/bare", { origin = session("c2s"), stanza = msg }));
		assert.equal("+12@sms.example.org", m.sent[1].stanza.attr.to);
	end);

	it("marks messages and presence with the JID the user wrote, replacing any mark of the client", function ()
		local m = loaded();
		local written = "0037255512345@example.org";
		local msg = st.message({ to = written .. "/res", type = "chat", id = "m3" })
			:text_tag("body", "hi")
			:tag(ADDRESSED_NAME, { xmlns = ADDRESSED_NS, jid = "alice@example.org" }):up();
		m.fire("message/full", { origin = session("c2s"), stanza = msg });
		m.fire("presence/bare", { origin = session("c2s"), stanza = st.presence({ to = written, type = "subscribe" }) });
		for i = 1, 2 do
			local clone = m.sent[i].stanza;
			local marks = {};
			for tag in clone:childtags(ADDRESSED_NAME, ADDRESSED_NS) do table.insert(marks, tag); end
			assert.equal(1, #marks, clone.name);
			assert.equal(written, marks[1].attr.jid, "the bare JID written");
		end
		assert.equal(TARGET .. "/res", m.sent[1].stanza.attr.to);
		assert.equal("hi", m.sent[1].stanza:get_child_text("body"));
		-- The client's own mark is gone from the original too (the inbound
		-- hook, which runs first, removes every mark it sees).
		assert.is_nil(msg:get_child(ADDRESSED_NAME, ADDRESSED_NS));
	end);

	it("does not mark iq requests, whose answers it restores itself", function ()
		local m = loaded();
		local written = "0037255512345@example.org";
		local iq = st.iq({ to = written, from = "alice@example.org/phone", type = "get", id = "d1" })
			:tag("query", { xmlns = "http://jabber.org/protocol/disco#info" }):up();
		m.fire("iq/bare", { origin = session("c2s"), stanza = iq });
		assert.is_nil(m.sent[1].stanza:get_child(ADDRESSED_NAME, ADDRESSED_NS));
		local result = st.reply(m.sent[1].stanza);
		assert.equal(TARGET, result.attr.from);
		m.fire("iq/full", { origin = session("component"), stanza = result });
		assert.equal(written, result.attr.from);
		-- Answered once: a second result with that id is not believed.
		local again = st.reply(m.sent[1].stanza);
		m.fire("iq/full", { origin = session("component"), stanza = again });
		assert.equal(TARGET, again.attr.from);
	end);

	it("hands Prosody a session whose bounces come from the JID written to", function ()
		local m = loaded();
		local alice = session("c2s", { full_jid = "alice@example.org/phone" });
		for i, written in ipairs({ ALIAS, "0037255512345@example.org", "+12@example.org" }) do
			local msg = st.message({ to = written, from = "alice@example.org/phone", type = "chat" });
			m.fire("message/bare", { origin = alice, stanza = msg });
			local wrapper = m.sent[i].origin;
			assert.are_not.equal(alice, wrapper);
			assert.equal("alice", wrapper.username);
			assert.equal("c2s", wrapper.type);
			-- What mod_component sends back while goippy is not connected:
			local bounce = st.error_reply(m.sent[i].stanza, "wait", "remote-server-timeout", "Component unavailable");
			assert.equal(m.sent[i].stanza.attr.to, bounce.attr.from);
			wrapper.send(bounce);
			assert.equal(i, #alice.received);
			assert.equal(written, alice.received[i].attr.from);
		end
	end);
end);

describe("mod_sms_alias and remote senders", function ()
	local function remote()
		return session("s2sin", { host = "remote.test", username = nil });
	end

	it("refuses messages and requests with service-unavailable from the alias", function ()
		local m = loaded();
		for _, stanza in ipairs({
			st.message({ to = ALIAS, from = "mallory@remote.test/x", type = "chat", id = "r1" }),
			st.iq({ to = ALIAS, from = "mallory@remote.test/x", type = "get", id = "r2" }):tag("ping", { xmlns = "urn:xmpp:ping" }),
		}) do
			local s2s = remote();
			assert.is_true(m.fire(stanza.name .. "/bare", { origin = s2s, stanza = stanza }));
			local reply = s2s.received[1];
			assert.equal("error", reply.attr.type);
			assert.equal(ALIAS, reply.attr.from);
			assert.equal("mallory@remote.test/x", reply.attr.to);
			local condition = reply:get_child("error"):get_child("service-unavailable", "urn:ietf:params:xml:ns:xmpp-stanzas");
			assert.truthy(condition);
		end
		assert.equal(0, #m.sent);
	end);

	it("drops presence, errors and results silently", function ()
		local m = loaded();
		for _, stanza in ipairs({
			st.presence({ to = ALIAS, from = "mallory@remote.test" }),
			st.message({ to = ALIAS, from = "mallory@remote.test", type = "error" }),
			st.iq({ to = ALIAS, from = "mallory@remote.test", type = "result", id = "r3" }),
		}) do
			local s2s = remote();
			assert.is_true(m.fire(stanza.name .. "/bare", { origin = s2s, stanza = stanza }));
			assert.equal(0, #s2s.received);
		end
		assert.equal(0, #m.sent);
	end);

	it("refuses them also when the retired sms_alias_allow_remote is set, and says so once", function ()
		for _, value in ipairs({ true, false }) do
			local m = loaded({ sms_alias_allow_remote = value, hosts = { ["sms.example.org"] = {} } });
			local s2s = remote();
			local stanza = st.message({ to = ALIAS, from = "mallory@remote.test/x", type = "chat", id = "r4" });
			assert.is_true(m.fire("message/bare", { origin = s2s, stanza = stanza }));
			assert.equal("error", s2s.received[1].attr.type);
			assert.equal(0, #m.sent);
			-- Nothing routes goippy's stanzas to other servers any more.
			assert.equal(0, #m.context_hooks);
			assert.equal(0, #m.global_hooks);
			local warnings = {};
			for _, line in ipairs(m.logs) do
				if line.level == "warn" then table.insert(warnings, line.text); end
			end
			assert.equal(1, #warnings);
			assert.truthy(warnings[1]:find("sms_alias_allow_remote is no longer supported and is ignored", 1, true));
		end
	end);

	it("gives no warning when the option is not set", function ()
		local m = loaded();
		for _, line in ipairs(m.logs) do
			assert.not_equal("warn", line.level, line.text);
		end
	end);
end);

describe("mod_sms_alias inbound", function ()
	it("rewrites `from` of the component's numbers in place and lets delivery continue", function ()
		local m = loaded();
		local reply = st.message({ from = TARGET .. "/gw", to = "alice@example.org/phone", type = "chat" })
			:text_tag("body", "hi");
		local ret = m.fire("message/full", { origin = session("component"), stanza = reply });
		assert.is_nil(ret);
		assert.equal(ALIAS .. "/gw", reply.attr.from);
		assert.equal(0, #m.sent);
	end);

	it("makes a marked answer come from the JID the user wrote to, and removes the mark", function ()
		local m = loaded();
		for _, written in ipairs({ "0037255512345@example.org", TARGET, ALIAS }) do
			local answer = st.message({ from = TARGET, to = "alice@example.org/phone", type = "chat" })
				:tag("received", { xmlns = "urn:xmpp:receipts", id = "m1" }):up()
				:tag(ADDRESSED_NAME, { xmlns = ADDRESSED_NS, jid = written }):up();
			assert.is_nil(m.fire("message/full", { origin = session("component"), stanza = answer }));
			assert.equal(written, answer.attr.from);
			assert.is_nil(answer:get_child(ADDRESSED_NAME, ADDRESSED_NS));
			assert.truthy(answer:get_child("received", "urn:xmpp:receipts"));
		end
	end);

	it("ignores a mark naming anything but the answer's own contact, and removes it", function ()
		local m = loaded();
		for _, written in ipairs({ "alice@example.org", "+37255599999@example.org", "x@other.test", "" }) do
			local answer = st.message({ from = TARGET, to = "alice@example.org/phone", type = "chat" })
				:tag(ADDRESSED_NAME, { xmlns = ADDRESSED_NS, jid = written }):up();
			m.fire("message/full", { origin = session("component"), stanza = answer });
			assert.equal(ALIAS, answer.attr.from, written);
			assert.is_nil(answer:get_child(ADDRESSED_NAME, ADDRESSED_NS));
		end
		-- From a user: removed, never believed.
		local forged = st.message({ from = "bob@example.org/x", to = "alice@example.org" })
			:tag(ADDRESSED_NAME, { xmlns = ADDRESSED_NS, jid = ALIAS }):up();
		m.fire("message/bare", { origin = session("c2s"), stanza = forged });
		assert.equal("bob@example.org/x", forged.attr.from);
		assert.is_nil(forged:get_child(ADDRESSED_NAME, ADDRESSED_NS));
	end);

	it("leaves an iq answer to a request written straight to goippy's JID alone", function ()
		local m = loaded();
		local result = st.iq({ from = TARGET, to = "alice@example.org/phone", type = "result", id = "direct" });
		m.fire("iq/full", { origin = session("component"), stanza = result });
		assert.equal(TARGET, result.attr.from);
	end);

	it("forgets the oldest iq requests beyond its bound", function ()
		local m = loaded();
		local alice = session("c2s");
		for i = 1, 1030 do
			m.fire("iq/bare", { origin = alice, stanza = st.iq({ to = ALIAS, from = "alice@example.org/a",
				type = "get", id = "q" .. i }):tag("ping", { xmlns = "urn:xmpp:ping" }):up() });
		end
		local oldest = st.reply(m.sent[1].stanza);
		m.fire("iq/full", { origin = session("component"), stanza = oldest });
		assert.equal(TARGET, oldest.attr.from, "forgotten");
		local newest = st.reply(m.sent[1030].stanza);
		m.fire("iq/full", { origin = session("component"), stanza = newest });
		assert.equal(ALIAS, newest.attr.from, "remembered");
	end);

	it("drops a message goippy sends again after a restart (same id, same user), once delivered", function ()
		local m = loaded();
		local function row(id, to)
			return st.message({ from = TARGET, to = to, type = "chat", id = id }):text_tag("body", "hi");
		end
		assert.is_nil(m.fire("message/bare", { origin = session("component"), stanza = row("goippy-in-7", "alice@example.org") }));
		assert.is_true(m.fire("message/bare", { origin = session("component"), stanza = row("goippy-in-7", "alice@example.org") }));
		-- Another user, another row, or an id goippy did not make: delivered.
		assert.is_nil(m.fire("message/bare", { origin = session("component"), stanza = row("goippy-in-7", "bob@example.org") }));
		assert.is_nil(m.fire("message/bare", { origin = session("component"), stanza = row("goippy-in-8", "alice@example.org") }));
		assert.is_nil(m.fire("message/bare", { origin = session("component"), stanza = row("m1", "alice@example.org") }));
		assert.is_nil(m.fire("message/bare", { origin = session("component"), stanza = row("m1", "alice@example.org") }));
		-- Not from the component: never dropped.
		local user = st.message({ from = "bob@example.org/x", to = "alice@example.org", id = "goippy-in-7" });
		assert.is_nil(m.fire("message/bare", { origin = session("c2s"), stanza = user }));
	end);

	it("forgets the oldest delivered ids beyond its bound", function ()
		local m = loaded();
		local function row(i)
			return st.message({ from = TARGET, to = "alice@example.org", id = "goippy-in-" .. i });
		end
		for i = 1, 4100 do
			m.fire("message/bare", { origin = session("component"), stanza = row(i) });
		end
		assert.is_nil(m.fire("message/bare", { origin = session("component"), stanza = row(1) }), "forgotten");
		assert.is_true(m.fire("message/bare", { origin = session("component"), stanza = row(4100) }), "remembered");
	end);

	it("rewrites the component's numbers whatever the letter case of its domain", function ()
		for _, case in ipairs({ { "sms.example.org", TARGET:upper() }, { "SMS.Example.org", TARGET } }) do
			local m = loaded({ sms_alias_component = case[1] });
			local reply = st.message({ from = case[2] .. "/gw", to = "alice@example.org/phone", type = "chat" });
			m.fire("message/full", { origin = session("component"), stanza = reply });
			assert.equal(ALIAS .. "/gw", reply.attr.from, case[1]);
		end
	end);

	it("removes a mark from any sender, also one without `from`", function ()
		local m = loaded();
		for _, from in ipairs({ false, "bob@example.org/+37255512345@sms.example.org", "example.org",
			"+37255512345@xyz.example.org" }) do
			local s = st.message({ to = "alice@example.org" })
				:tag(ADDRESSED_NAME, { xmlns = ADDRESSED_NS, jid = ALIAS }):up()
				:tag(ADDRESSED_NAME, { xmlns = ADDRESSED_NS, jid = ALIAS }):up();
			s.attr.from = from or nil;
			assert.is_nil(m.fire("message/bare", { origin = session("c2s"), stanza = s }));
			assert.equal(from or nil, s.attr.from);
			assert.equal(0, #s.tags, tostring(from));
		end
	end);

	it("leaves other senders alone", function ()
		local m = loaded();
		for _, from in ipairs({ "bob@example.org/x", "Swedbank@sms.example.org", "sms.example.org",
			"+37255512345@other.test", "+37255512345@xyz.example.org", "bob@example.org/+37255512345@sms.example.org",
			"+37255512345@sms.example.org.other.test" }) do
			local s = st.presence({ from = from, to = "alice@example.org" });
			m.fire("presence/bare", { origin = session("c2s"), stanza = s });
			assert.equal(from, s.attr.from);
		end
	end);
end);
