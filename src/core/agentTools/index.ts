export { runTool, ToolError, TOOLS, type QueryFn, type ToolContext, type ToolSpec } from './tools';
export { DATA_NOTE, estimateTokens, makeRedactor, quote } from './text';
export { inProcessQuery } from './inProcess';
