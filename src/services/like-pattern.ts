/** Escapes LIKE's wildcards so a search for "50%" finds that text, not everything after "50". */
export const likePattern = (text: string) => `%${text.replace(/[\\%_]/g, '\\$&')}%`;
