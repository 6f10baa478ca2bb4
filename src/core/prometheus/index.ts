/** Prometheus and OpenMetrics: parsing, PromQL semantics, scraping and route statistics. */
export * from './parser';
export * from './quantile';
export * from './rate';
export * from './convert';
export * from './routes';
export * from './fetch';
export * from './scraper';
