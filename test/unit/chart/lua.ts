// Runs an Argo CD health-check script the way Argo CD does: `obj` is a global table built from the
// live object's JSON, and the script returns a table {status, message}. Fengari is a Lua 5.3 VM in
// JavaScript; the scripts stick to what Lua 5.1 (Argo CD's gopher-lua) also has.
import { createRequire } from 'node:module';

type LuaState = { readonly __luaState: unique symbol };
type LuaString = Uint8Array;

/** The part of fengari's C-like API used here (it ships no type declarations). */
interface Fengari {
  to_luastring(s: string): LuaString;
  lua: {
    LUA_OK: number;
    LUA_TTABLE: number;
    lua_pushnil(L: LuaState): void;
    lua_pushboolean(L: LuaState, b: boolean): void;
    lua_pushinteger(L: LuaState, n: number): void;
    lua_pushnumber(L: LuaState, n: number): void;
    lua_pushstring(L: LuaState, s: LuaString): void;
    lua_createtable(L: LuaState, narr: number, nrec: number): void;
    lua_rawseti(L: LuaState, idx: number, n: number): void;
    lua_setfield(L: LuaState, idx: number, k: LuaString): void;
    lua_getfield(L: LuaState, idx: number, k: LuaString): number;
    lua_setglobal(L: LuaState, name: LuaString): void;
    lua_pcall(L: LuaState, nargs: number, nresults: number, msgh: number): number;
    lua_type(L: LuaState, idx: number): number;
    lua_tojsstring(L: LuaState, idx: number): string | null;
    lua_pop(L: LuaState, n: number): void;
  };
  lauxlib: {
    luaL_newstate(): LuaState;
    luaL_loadbuffer(L: LuaState, buf: LuaString, sz: number | null, name: LuaString): number;
  };
  lualib: { luaL_openlibs(L: LuaState): void };
}

const fengari = createRequire(import.meta.url)('fengari') as Fengari;
const { lua, lauxlib, lualib, to_luastring } = fengari;

/** Pushes a JSON value as Lua: arrays become 1-based tables, integral numbers integers (as Argo prints them). */
function push(L: LuaState, value: unknown): void {
  if (value === null || value === undefined) lua.lua_pushnil(L);
  else if (typeof value === 'boolean') lua.lua_pushboolean(L, value);
  else if (typeof value === 'number') {
    if (Number.isInteger(value)) lua.lua_pushinteger(L, value);
    else lua.lua_pushnumber(L, value);
  } else if (typeof value === 'string') lua.lua_pushstring(L, to_luastring(value));
  else if (Array.isArray(value)) {
    lua.lua_createtable(L, value.length, 0);
    value.forEach((item, i) => { push(L, item); lua.lua_rawseti(L, -2, i + 1); });
  } else if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== null && v !== undefined);
    lua.lua_createtable(L, 0, entries.length);
    for (const [k, v] of entries) { push(L, v); lua.lua_setfield(L, -2, to_luastring(k)); }
  } else throw new Error(`cannot pass a ${typeof value} to Lua`);
}

export interface HealthStatus { status: string; message: string | undefined }

/** Runs `script` with the global `obj` set to `object`; throws with Lua's error message on a runtime error. */
export function runHealthScript(script: string, object: unknown, chunkName = 'health'): HealthStatus {
  const L = lauxlib.luaL_newstate();
  lualib.luaL_openlibs(L);
  push(L, object);
  lua.lua_setglobal(L, to_luastring('obj'));
  const code = to_luastring(script);
  if (lauxlib.luaL_loadbuffer(L, code, null, to_luastring(`@${chunkName}`)) !== lua.LUA_OK) {
    throw new Error(`Lua syntax error: ${lua.lua_tojsstring(L, -1)}`);
  }
  if (lua.lua_pcall(L, 0, 1, 0) !== lua.LUA_OK) throw new Error(`Lua error: ${lua.lua_tojsstring(L, -1)}`);
  if (lua.lua_type(L, -1) !== lua.LUA_TTABLE) throw new Error('the health script did not return a table');
  lua.lua_getfield(L, -1, to_luastring('status'));
  const status = lua.lua_tojsstring(L, -1);
  lua.lua_pop(L, 1);
  lua.lua_getfield(L, -1, to_luastring('message'));
  const message = lua.lua_tojsstring(L, -1);
  lua.lua_pop(L, 1);
  if (status === null) throw new Error('the health script returned no status');
  return { status, message: message ?? undefined };
}
