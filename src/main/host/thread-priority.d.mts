/** See thread-priority.mjs. */
export declare const ENGINE_NICE_OFFSET: number;
export declare function threadNice(): number | null;
export declare function lowerThreadPriority(offset?: number): number | null;
