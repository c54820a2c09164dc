/**
 * Reading the document store from components: a context holding the store (the page's one, or a
 * test's own) and a selector hook over useSyncExternalStore, so a component re-renders only when
 * the slice it selects changes identity.
 */
import { createContext, useContext, useMemo, useSyncExternalStore } from 'react';
import { toPipeline, validate } from '../../lib/graph.ts';
import { DocumentStore, type DocumentState } from './document-store.ts';

/** The page's document. */
export const documentStore = new DocumentStore();

export const DocumentContext = createContext<DocumentStore>(documentStore);

/** The document store in scope. */
export const useDocumentStore = (): DocumentStore => useContext(DocumentContext);

/**
 * A slice of the document. The selector must return a part of the state (or a value compared by
 * identity that it does not build afresh), e.g. `(s) => s.nodes`.
 */
export function useDocument<T>(selector: (s: DocumentState) => T): T {
  const store = useDocumentStore();
  return useSyncExternalStore(store.subscribe, () => selector(store.get()));
}

/** The document validated as the executor would, with JSON syntax errors folded in per node. */
export function useValidation() {
  const nodes = useDocument((s) => s.nodes);
  const edges = useDocument((s) => s.edges);
  const name = useDocument((s) => s.name);
  const description = useDocument((s) => s.description);
  const syntaxErrors = useDocument((s) => s.syntaxErrors);
  const pipeline = useMemo(
    () => toPipeline(name, description, nodes, edges),
    [name, description, nodes, edges],
  );
  const validation = useMemo(() => validate(pipeline), [pipeline]);
  const problems = useMemo(() => {
    const m = new Map<string, readonly string[]>(validation.byNode);
    for (const [id, msg] of syntaxErrors) m.set(id, [`JSON: ${msg}`, ...(m.get(id) ?? [])]);
    return m;
  }, [validation, syntaxErrors]);
  return { validation, problems, runnable: runnable(nodes.length, validation.ok, syntaxErrors) };
}

/** Whether the document can run: it has nodes, validates, and its JSON editors parse. */
export function runnable(
  nodeCount: number,
  valid: boolean,
  syntaxErrors: ReadonlyMap<string, string>,
): boolean {
  return nodeCount > 0 && valid && syntaxErrors.size === 0;
}
