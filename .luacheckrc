std = "lua54"
max_line_length = 110
include_files = { "lua/**/*.lua", "spec/**/*.lua", "examples/**/*.lua", "bench/**/*.lua",
                  "scripts/**/*.lua", "*.rockspec", ".luacheckrc", ".busted" }
files["spec/**/*.lua"] = { std = "+busted" }
files["*.rockspec"] = { std = "+rockspec" }
-- to-be-closed guards ('local g <close> = lock:guard()') are used by their
-- scope exit, which luacheck 1.1 does not see
ignore = { "211/g", "211/guard", "211/_.*" }
-- worker targets in specs and benchmarks take the values they are sent
-- under the same names as the upvalues they would otherwise capture
files["spec/**/*.lua"].ignore = { "431", "432" }
files["bench/**/*.lua"] = { ignore = { "431", "432" } }
