import { useEffect, useState } from 'react';
import { api } from '../api/client';
import type { WorkflowSummary } from '../api/types';
import { Link } from '../Link';

export function Dashboard() {
  const [workflows, setWorkflows] = useState<WorkflowSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api
      .get<{ workflows: WorkflowSummary[] }>('/workflows')
      .then((r) => {
        setWorkflows(r.workflows);
      })
      .catch((e: unknown) => {
        setError(String(e));
      });
  }, []);
  return (
    <main>
      <h1>Workflows</h1>
      {error && <p role="alert">{error}</p>}
      <ul>
        {workflows?.map((w) => (
          <li key={w.name}>
            <Link to={{ page: 'workflow', name: w.name }}>{w.name}</Link>
          </li>
        ))}
      </ul>
    </main>
  );
}
