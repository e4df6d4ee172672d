import type { Outputs } from '../api';
import { Ago, duration, ErrorNote, number, useLoad } from '../components';
import { hrefOf } from '../route';
import { useSigned } from '../session';

type Overview = Outputs['jobs']['overview'];

const statuses = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;

export function OverviewView() {
  const { client } = useSigned();
  const { data, error } = useLoad(() => client.jobs.overview.query(), [client], 5_000);
  return (
    <section>
      <h1>Overview</h1>
      <ErrorNote error={error} />
      {data && (
        <>
          <div class="cards">
            <OldestDue overview={data} />
            <Finished overview={data} />
            <div class="card">
              <span class="label">Workers seen</span>
              <span class="figure" data-testid="workers-seen">
                {data.workers.length}
              </span>
            </div>
          </div>
          <h2>Jobs by type and status</h2>
          <Counts overview={data} />
          <h2>Finished per minute, last hour</h2>
          <ThroughputChart overview={data} />
          <h2>Workers</h2>
          <Workers overview={data} />
        </>
      )}
    </section>
  );
}

function OldestDue({ overview }: { overview: Overview }) {
  const due = overview.oldestDue;
  return (
    <div class="card">
      <span class="label">Oldest due job waits</span>
      <span class="figure" data-testid="oldest-due">
        {due ? duration(overview.at.getTime() - due.runAfter.getTime()) : 'none'}
      </span>
      {due && (
        <a href={hrefOf.job(due.id)} class="small">
          {due.jobType} {due.id.slice(0, 8)}
        </a>
      )}
    </div>
  );
}

function Finished({ overview }: { overview: Overview }) {
  const sum = (key: 'completed' | 'failed') =>
    overview.throughput.reduce((total, row) => total + row[key], 0);
  return (
    <div class="card">
      <span class="label">Last hour</span>
      <span class="figure">{number(sum('completed'))}</span>
      <span class="small">completed, {number(sum('failed'))} failed</span>
    </div>
  );
}

function Counts({ overview }: { overview: Overview }) {
  const types = [...new Set(overview.counts.map((row) => row.jobType))];
  const jobs = (type: string, status: string) =>
    overview.counts.find((row) => row.jobType === type && row.status === status)?.jobs ?? 0;
  return (
    <table class="grid" data-testid="counts">
      <thead>
        <tr>
          <th>type</th>
          {statuses.map((status) => (
            <th key={status} class="num">
              {status}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {types.map((type) => (
          <tr key={type}>
            <th scope="row">{type}</th>
            {statuses.map((status) => (
              <td key={status} class="num" data-cell={`${type}/${status}`}>
                {number(jobs(type, status))}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

const chart = { width: 720, height: 160, gap: 2, left: 40, bottom: 18 };
const series = [
  ['completed', 'var(--ok)'],
  ['failed', 'var(--bad)'],
  ['cancelled', 'var(--muted)'],
] as const;

/** Stacked bars, one per minute: completed, failed and cancelled jobs. */
function ThroughputChart({ overview }: { overview: Overview }) {
  const rows = overview.throughput;
  const most = Math.max(1, ...rows.map((row) => row.completed + row.failed + row.cancelled));
  const plotHeight = chart.height - chart.bottom;
  const barWidth = (chart.width - chart.left) / Math.max(rows.length, 1);
  const scale = (value: number) => (value / most) * (plotHeight - 4);
  return (
    <figure class="chart">
      <svg
        viewBox={`0 0 ${chart.width} ${chart.height}`}
        role="img"
        aria-label="Jobs finished per minute over the last hour"
        data-testid="throughput"
      >
        <text x={chart.left - 6} y={10} class="axis" text-anchor="end">
          {number(most)}
        </text>
        <text x={chart.left - 6} y={plotHeight} class="axis" text-anchor="end">
          0
        </text>
        <line x1={chart.left} x2={chart.width} y1={plotHeight} y2={plotHeight} class="baseline" />
        {rows.map((row, index) => {
          let top = plotHeight;
          return (
            <g key={row.minute.toISOString()}>
              <title>
                {row.minute.toISOString().slice(11, 16)} UTC: {row.completed} completed, {row.failed} failed,{' '}
                {row.cancelled} cancelled
              </title>
              {series.map(([key, colour]) => {
                const height = scale(row[key]);
                top -= height;
                return height > 0 ? (
                  <rect
                    key={key}
                    x={chart.left + index * barWidth}
                    y={top}
                    width={Math.max(barWidth - chart.gap, 1)}
                    height={height}
                    fill={colour}
                  />
                ) : null;
              })}
            </g>
          );
        })}
        <text x={chart.left} y={chart.height - 4} class="axis">
          60 min ago
        </text>
        <text x={chart.width} y={chart.height - 4} class="axis" text-anchor="end">
          now
        </text>
      </svg>
      <figcaption>
        {series.map(([key, colour]) => (
          <span key={key} class="legend">
            <svg width="10" height="10" aria-hidden="true">
              <rect width="10" height="10" fill={colour} />
            </svg>
            {key}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}

function Workers({ overview }: { overview: Overview }) {
  if (overview.workers.length === 0)
    return <p class="muted">No worker holds a job or finished one in the last hour.</p>;
  return (
    <table class="grid" data-testid="workers">
      <thead>
        <tr>
          <th>worker</th>
          <th class="num">running</th>
          <th class="num">finished, last hour</th>
          <th>last seen</th>
        </tr>
      </thead>
      <tbody>
        {overview.workers.map((worker) => (
          <tr key={worker.workerId}>
            <td>{worker.workerId}</td>
            <td class="num">{number(worker.running)}</td>
            <td class="num">{number(worker.finishedLastHour)}</td>
            <td>
              <Ago at={worker.lastSeenAt} now={overview.at} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
