-- What mod_sms_alias's hooks cost per stanza, measured in lua5.4 outside
-- Prosody: the module file runs against a minimal `module` API, with
-- Prosody's own util.stanza and the real native library, and each case fires
-- its stanza through the module's handlers, by priority, as util.events does.
--
-- Prosody runs its collector incremental with threshold 105 and speed 500
-- (util.startup): a cycle starts once 5% of the heap is allocated again and
-- marks all of it, so an allocated byte costs far more there than in a bare
-- Lua. This script sets the same and keeps a live heap of about Prosody's
-- size (HEAP_MB, default 5; a test server's whole process has 15 MB
-- resident), and prints, per case, the hook time per stanza over
-- that of empty handlers at the same priorities, and the bytes allocated
-- per stanza. It prints; it asserts nothing about speed. On a shared
-- machine compare runs made back to back.
--
-- Run (from the repository root, after `cargo build --release -p mod_sms_alias`):
--   SMS_ALIAS_NATIVE=target/release/libsms_alias_native.so lua5.4 lua/bench/hook_cost.lua [MODULE_FILE]

package.path = "/usr/lib/prosody/?.lua;" .. package.path;
package.cpath = "/usr/lib/prosody/?.so;" .. package.cpath;

local st = require "util.stanza";

local MODULE_FILE = arg[1] or "lua/mod_sms_alias.lua";
local NATIVE = assert(os.getenv("SMS_ALIAS_NATIVE"), "set SMS_ALIAS_NATIVE to the built libsms_alias_native.so");
local STANZAS = tonumber(os.getenv("STANZAS") or "200000");
local HEAP_MB = tonumber(os.getenv("HEAP_MB") or "5");

-- The handlers a module file registers, by event, highest priority first.
local function load_hooks(load)
	local hooks = {};
	local api = {
		host = "example.org";
		get_option_string = function (_, name, default)
			if name == "sms_alias_component" then return "sms.example.org"; end
			return default;
		end;
		get_option_boolean = function (_, _, default) return default; end;
		get_option_path = function (_, name, default)
			if name == "sms_alias_native_path" then return NATIVE; end
			return default;
		end;
		get_directory = function () return "/nonexistent"; end;
		log = function () end;
		hook = function (_, event, handler, priority)
			hooks[event] = hooks[event] or {};
			table.insert(hooks[event], { handler = handler, priority = priority or 0 });
			table.sort(hooks[event], function (a, b) return a.priority > b.priority; end);
		end;
		send = function () end;
	};
	load(setmetatable({ module = api, prosody = { paths = {}, hosts = {} } }, { __index = _G }));
	return hooks;
end

local module_hooks = load_hooks(function (env) assert(loadfile(MODULE_FILE, "t", env))(); end);
-- Empty handlers at the module's priorities: the floor of the dispatch itself.
local empty_hooks = load_hooks(function (env)
	local function nothing() end
	for event, handlers in pairs(module_hooks) do
		for _, h in ipairs(handlers) do env.module:hook(event, nothing, h.priority); end
	end
end);

local function fire(hooks, name, event)
	local handlers = hooks[name];
	for i = 1, #handlers do
		local r = handlers[i].handler(event);
		if r ~= nil then return r; end
	end
end

local origin = { type = "c2s", host = "example.org", username = "alice", send = function () return true; end };
-- Ids as goippy gives its inbox rows. The module remembers the last 4096 it
-- delivered; twice as many, in turn, are each new to it.
local IDS = 8192;
local ids = {};
for i = 1, IDS do ids[i] = "goippy-in-" .. i; end

collectgarbage("incremental", 105, 500);
collectgarbage();
local heap = {};
for i = 1, (HEAP_MB * 1024 - collectgarbage("count")) * 1024 / 72 do heap[i] = { i }; end

-- ns per stanza over `count` firings of one stanza, its `from`, `to` (and,
-- with unique_ids, `id`) reset each time: the inbound hook rewrites `from`.
local function run(hooks, event_name, stanza, from, to, unique_ids, first, count)
	local event = { origin = origin, stanza = stanza };
	local a = stanza.attr;
	local t0 = os.clock();
	for i = first, first + count - 1 do
		a.from, a.to = from, to;
		if unique_ids then a.id = ids[i % IDS + 1]; end
		fire(hooks, event_name, event);
	end
	return (os.clock() - t0) / count * 1e9;
end

local function case(name, event_name, attrs, unique_ids)
	-- (The stanza keeps `attrs` as its attribute table.)
	local from, to = attrs.from, attrs.to;
	local stanza = st.message(attrs):text_tag("body", "hello")
		:tag("active", { xmlns = "http://jabber.org/protocol/chatstates" }):up();
	collectgarbage();
	local floor = run(empty_hooks, event_name, stanza, from, to, unique_ids, 1, STANZAS);
	collectgarbage();
	local spent = run(module_hooks, event_name, stanza, from, to, unique_ids, 1, STANZAS);
	-- Bytes per stanza, with the collector stopped.
	collectgarbage(); collectgarbage("stop");
	local before = collectgarbage("count");
	run(module_hooks, event_name, stanza, from, to, unique_ids, STANZAS + 1, 1000);
	local bytes = (collectgarbage("count") - before) * 1024 / 1000;
	collectgarbage("restart");
	print(("%-30s %8.0f ns %8.0f bytes"):format(name, spent - floor, bytes));
end

print(("%s, heap %.1f MB, %d stanzas per case"):format(MODULE_FILE, collectgarbage("count") / 1024, STANZAS));
print(("%-30s %11s %14s"):format("case", "per stanza", "allocated"));
case("user to user", "message/bare", { from = "alice@example.org/phone", to = "bob@example.org", type = "chat", id = "m1" });
case("user to user, full JID", "message/full", { from = "alice@example.org/phone", to = "bob@example.org/laptop", type = "chat", id = "m1" });
case("to a number", "message/bare", { from = "alice@example.org/phone", to = "+37255512345@example.org", type = "chat", id = "m1" });
case("from a number", "message/full", { from = "+37255512345@sms.example.org", to = "alice@example.org/phone", type = "chat", id = "x1" });
case("from a number, goippy-in id", "message/full", { from = "+37255512345@sms.example.org", to = "alice@example.org/phone", type = "chat" }, true);
