/** The full-page error when the engine cannot be reached at start. */
export function Fatal({ message, web }: { readonly message: string; readonly web: boolean }) {
  return (
    <div className="fatal">
      <h1>D2NWG Studio cannot reach its engine</h1>
      <p>{message}</p>
      {web && (
        <p>
          Open the URL printed by <code>d2nwg serve</code> (it carries the access token).
        </p>
      )}
    </div>
  );
}
