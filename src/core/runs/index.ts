export * from './run';
export * from './tracker';
export * from './compare';
export * from './annotate';
