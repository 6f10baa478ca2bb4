/**
 * Type guards for the messages between the extension host and the webviews: both sides validate
 * what they receive with these (the host bundle and the browser bundles share this file).
 */
export const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
export const isStr = (v: unknown): v is string => typeof v === 'string';
export const isNum = (v: unknown): v is number => typeof v === 'number' && !Number.isNaN(v);
export const isNumOrNull = (v: unknown): v is number | null => v === null || isNum(v);
export const isOptStr = (v: unknown): v is string | undefined => v === undefined || isStr(v);
export const isOptNum = (v: unknown): v is number | undefined => v === undefined || isNum(v);
export const isBool = (v: unknown): v is boolean => typeof v === 'boolean';
export const isHex = (v: unknown, len: number): v is string => isStr(v) && v.length === len && /^[0-9a-f]+$/.test(v);
/** A trace id as the webviews get it: 32 lowercase hex digits. */
export const isTraceId = (v: unknown): v is string => isHex(v, 32);
export const isSpanId = (v: unknown): v is string => isHex(v, 16);
