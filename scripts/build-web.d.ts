/** Builds the web page into `outDir` (default dist/web); returns the directory. */
export function buildWebAssets(outDir?: string): Promise<string>;
