import { useCallback, useEffect, useState } from "react";

/** Runs ``load`` now and whenever its inputs change; ``reload`` runs it again. Errors are kept for display. */
export function useLoad<T>(load: () => Promise<T>, inputs: readonly unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  // ``load`` is a new closure on every render; ``inputs`` say when it actually asks for something else.
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
