import { useCallback, useEffect, useState, type DependencyList } from "react";

/**
 * Runs ``load`` now and whenever its inputs change; ``reload`` runs it again. Errors are kept for display.
 * ``inputs`` is ``load``'s dependency list, as for useEffect, and the linter checks it at each call
 * (exhaustive-deps' additionalHooks in eslint.config.js).
 */
export function useLoad<T>(load: () => Promise<T>, inputs: DependencyList) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  // ``load`` is a new closure on every render; ``inputs`` say when it actually asks for something else.
  // The list is the caller's, checked where it is written; here it can only be passed on.
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const run = useCallback(load, inputs);
  const reload = useCallback(async () => {
    try {
      setData(await run());
      setError(null);
    } catch (failure) {
      setError(failure);
    }
  }, [run]);
  useEffect(() => {
    void reload();
  }, [reload]);
  return { data, error, reload, setData };
}
