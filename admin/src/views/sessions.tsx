import { useState } from 'preact/hooks';
import type { Outputs } from '../api';
import { ActionButton, Ago, ConfirmAction, ErrorNote, number, Status, useLoad } from '../components';
import { hrefOf } from '../route';
import { useSigned } from '../session';

type Session = Outputs['sessions']['get'];
type Progress = Outputs['sessions']['progress'];

const statuses = ['pending', 'running', 'paused', 'completed', 'failed'] as const;

export function SessionsView() {
  const { client } = useSigned();
  const [status, setStatus] = useState<(typeof statuses)[number] | ''>('');
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors.at(-1);
  const { data, error, reload } = useLoad(
    async () => {
      const page = await client.sessions.list.query({ limit: 20, cursor, ...(status ? { status } : {}) });
      // One batched request for every session's progress.
      const progress = await Promise.all(
        page.items.map((session) => client.sessions.progress.query({ id: session.id })),
      );
      return { ...page, progress };
    },
    [client, status, cursor],
    10_000,
  );
  return (
    <section>
      <h1>Sessions</h1>
      <label class="inline">
        Status{' '}
        <select
          name="status"
          value={status}
          onChange={(event) => {
            setStatus(event.currentTarget.value as typeof status);
            setCursors([]);
          }}
        >
          <option value="">any</option>
          {statuses.map((value) => (
            <option key={value}>{value}</option>
          ))}
        </select>
      </label>
      <ErrorNote error={error} />
      {data && data.items.length === 0 && <p class="muted">No session.</p>}
      {data && data.items.length > 0 && (
        <table class="grid" data-testid="sessions">
          <thead>
            <tr>
              <th>session</th>
              <th>status</th>
              <th>progress</th>
              <th class="num">queued</th>
              <th class="num">running</th>
              <th class="num">completed</th>
              <th class="num">failed</th>
              <th class="num">cancelled</th>
              <th>finishes</th>
              <th>actions</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((session, index) => (
              <SessionRow
                key={session.id}
                session={session}
                progress={data.progress[index]!}
                onChange={reload}
              />
            ))}
          </tbody>
        </table>
      )}
      <div class="pager">
        <button
          type="button"
          disabled={cursors.length === 0}
          onClick={() => setCursors(cursors.slice(0, -1))}
        >
          Newer
        </button>
        <button
          type="button"
          disabled={!data?.nextCursor}
          onClick={() => data?.nextCursor && setCursors([...cursors, data.nextCursor])}
        >
          Older
        </button>
      </div>
    </section>
  );
}

function SessionRow({
  session,
  progress,
  onChange,
}: {
  session: Session;
  progress: Progress;
  onChange: () => Promise<void>;
}) {
  const { client } = useSigned();
  const move = (name: 'start' | 'pause' | 'resume' | 'complete' | 'fail') => async () => {
    await client.sessions[name].mutate({ id: session.id });
    await onChange();
  };
  const open = ['pending', 'running', 'paused'].includes(session.status);
  return (
    <tr data-session={session.id}>
      <td>
        <strong>{session.sessionName}</strong>
        <div class="small muted">
          {session.sessionType} · <a href={hrefOf.bulk({ sessionId: session.id })}>its jobs in bulk</a>
        </div>
      </td>
      <td>
        <Status status={session.status} />
      </td>
      <td>
        <progress
          max={100}
          value={progress.percentDone}
          title={`${progress.percentDone.toFixed(1)}% finished`}
        />
        <span class="small">
          {' '}
          {progress.percentDone.toFixed(0)}% of {number(progress.total)}
        </span>
      </td>
      <td class="num">{number(progress.queued)}</td>
      <td class="num">{number(progress.running)}</td>
      <td class="num">{number(progress.completed)}</td>
      <td class="num">{number(progress.failed)}</td>
      <td class="num">{number(progress.cancelled)}</td>
      <td>
        {progress.estimatedFinishAt ? <Ago at={progress.estimatedFinishAt} /> : <span class="muted">—</span>}
      </td>
      <td class="actions">
        {session.status === 'pending' && (
          <ActionButton name="start" onClick={move('start')}>
            Start
          </ActionButton>
        )}
        {session.status === 'running' && (
          <ActionButton name="pause" onClick={move('pause')}>
            Pause
          </ActionButton>
        )}
        {session.status === 'paused' && (
          <ActionButton name="resume" onClick={move('resume')}>
            Resume
          </ActionButton>
        )}
        {(session.status === 'running' || session.status === 'paused') && (
          <ActionButton name="complete" onClick={move('complete')}>
            Complete
          </ActionButton>
        )}
        {open && (
          <ConfirmAction
            name="cancel"
            label="Cancel"
            question={`Fail the session and cancel its ${number(progress.queued)} queued jobs?`}
            confirmLabel="Cancel session"
            onConfirm={move('fail')}
          />
        )}
      </td>
    </tr>
  );
}
