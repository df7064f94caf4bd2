// Types of scripts/fetch-libvirt-suite.js, for src/testing/libvirt-suite.ts and the tests.
export declare const VERSION: string;
export declare const TARBALL: string;
export declare const TARBALL_SIZE: number;
export declare const TARBALL_SHA256: string;
export declare const STAMP: string;
export declare const SELECTION: number;
export interface SuiteStamp {
  tarball: string;
  size: number;
  sha256: string;
  selection: number;
  files: number;
}
export declare function cacheHome(env?: NodeJS.ProcessEnv): string;
export declare function suiteDir(env?: NodeJS.ProcessEnv): string;
export declare function debianMirrorsFromAptSources(text: string, deb822: boolean): string[];
export declare function machineDebianMirrors(root?: string): string[];
export declare function wanted(path: string): boolean;
export declare function verifyTarball(file: string): Promise<void>;
export declare function checkSuite(dir: string): { ok: true; stamp: SuiteStamp } | { ok: false; why: string };
export declare function fetchSuite(env?: NodeJS.ProcessEnv): Promise<string>;
