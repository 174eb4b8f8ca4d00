export function StatusChip({ status }: { status: string }) {
  return <span className={`chip st-${status}`}>{status}</span>;
}
