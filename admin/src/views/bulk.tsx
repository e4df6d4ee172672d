import { useState } from 'preact/hooks';
import { type Inputs, messageOf, type Outputs } from '../api';
import { ActionButton, Ago, ErrorNote, number, Status } from '../components';
import { hrefOf } from '../route';
import { useSigned } from '../session';

type Action = 'retry' | 'cancel';
type Filter = Omit<Inputs['jobs']['bulkPreview'], 'action' | 'sampleSize'>;
type Preview = Outputs['jobs']['bulkPreview'];

/** The statuses each action moves, as the API says (`bulkActionMoves`). */
const moves: Record<Action, string[]> = { retry: ['failed'], cancel: ['queued', 'running'] };

interface Form {
  action: Action;
  jobType: string;
  status: string;
  sessionId: string;
  errorContains: string;
  createdAfter: string;
  createdBefore: string;
}

/** The API's filter from the form: empty fields left out, local date-times as instants. */
function filterOf(form: Form): Filter {
  const filter: Filter = {};
  if (form.jobType) filter.jobType = form.jobType as Filter['jobType'];
  if (form.status) filter.status = form.status as Filter['status'];
  if (form.sessionId.trim()) filter.sessionId = form.sessionId.trim();
  if (form.errorContains.trim()) filter.errorContains = form.errorContains.trim();
  if (form.createdAfter) filter.createdAfter = new Date(form.createdAfter);
  if (form.createdBefore) filter.createdBefore = new Date(form.createdBefore);
  return filter;
}

export function BulkView({ params }: { params: URLSearchParams }) {
  const { client } = useSigned();
  const [form, setForm] = useState<Form>({
    action: params.get('action') === 'cancel' ? 'cancel' : 'retry',
    jobType: params.get('jobType') ?? '',
    status: params.get('status') ?? '',
    sessionId: params.get('sessionId') ?? '',
    errorContains: params.get('errorContains') ?? '',
    createdAfter: '',
    createdBefore: '',
  });
  const [preview, setPreview] = useState<{ for: string; result: Preview }>();
  const [error, setError] = useState<string>();
  const [progress, setProgress] = useState<{ changed: number; done: boolean }>();
  const current = JSON.stringify(form);
  const set = (field: keyof Form) => (event: { currentTarget: { value: string } }) => {
    const value = event.currentTarget.value;
    setForm((before) => ({
      ...before,
      [field]: value,
      // A status the new action does not move would be rejected: the form forgets it.
      ...(field === 'action' && !moves[value as Action].includes(before.status) ? { status: '' } : {}),
    }));
  };

  const runPreview = async () => {
    setError(undefined);
    setProgress(undefined);
    try {
      const result = await client.jobs.bulkPreview.query({
        action: form.action,
        ...filterOf(form),
        sampleSize: 10,
      });
      setPreview({ for: current, result });
    } catch (failure) {
      setPreview(undefined);
      setError(messageOf(failure));
    }
  };

  // Calls in batches of the API's limit, each from where the last one stopped, until none is left.
  const run = async () => {
    const call = form.action === 'retry' ? client.jobs.bulkRetry : client.jobs.bulkCancel;
    let changed = 0;
    let cursor: string | undefined;
    do {
      const batch = await call.mutate({ ...filterOf(form), cursor });
      changed += batch.changed;
      setProgress({ changed, done: false });
      cursor = batch.nextCursor ?? undefined;
    } while (cursor !== undefined);
    setProgress({ changed, done: true });
    setPreview(undefined);
  };

  const fresh = preview?.for === current ? preview.result : undefined;
  const verb = form.action === 'retry' ? 'Retry' : 'Cancel';
  return (
    <section>
      <h1>Bulk retry or cancel</h1>
      <form
        class="filters"
        onSubmit={(event) => {
          event.preventDefault();
          void runPreview();
        }}
      >
        <label>
          Action
          <select name="action" value={form.action} onChange={set('action')}>
            <option value="retry">retry failed jobs</option>
            <option value="cancel">cancel queued or running jobs</option>
          </select>
        </label>
        <label>
          Type
          <select name="jobType" value={form.jobType} onChange={set('jobType')}>
            <option value="">any</option>
            <option>channel_discovery</option>
            <option>transcript_extraction</option>
          </select>
        </label>
        <label>
          Status
          <select name="status" value={form.status} onChange={set('status')}>
            <option value="">{moves[form.action].join(' or ')}</option>
            {moves[form.action].length > 1 &&
              moves[form.action].map((status) => <option key={status}>{status}</option>)}
          </select>
        </label>
        <label>
          Session id
          <input name="sessionId" value={form.sessionId} onInput={set('sessionId')} placeholder="any" />
        </label>
        <label>
          Error contains
          <input
            name="errorContains"
            value={form.errorContains}
            onInput={set('errorContains')}
            placeholder="any"
          />
        </label>
        <label>
          Created from
          <input
            type="datetime-local"
            name="createdAfter"
            value={form.createdAfter}
            onInput={set('createdAfter')}
          />
        </label>
        <label>
          Created before
          <input
            type="datetime-local"
            name="createdBefore"
            value={form.createdBefore}
            onInput={set('createdBefore')}
          />
        </label>
        <button type="submit" name="preview" class="primary">
          Preview
        </button>
      </form>
      <ErrorNote error={error} />
      {progress && (
        <p class={progress.done ? 'ok' : ''} role="status" data-testid="bulk-progress">
          {progress.done ? 'Done: ' : 'Working: '}
          {number(progress.changed)} jobs {form.action === 'retry' ? 'queued again' : 'cancelled'}.
        </p>
      )}
      {fresh && (
        <div data-testid="bulk-preview">
          <p>
            <strong data-testid="bulk-count">
              {fresh.exact ? '' : 'at least '}
              {number(fresh.count)}
            </strong>{' '}
            {fresh.count === 1 ? 'job matches' : 'jobs match'} now.
            {form.action === 'retry' &&
              ' A retry takes each entity’s latest failed job, none with an active job, none of a finished session.'}
          </p>
          {fresh.count > 0 && (
            <Confirm
              label={`${verb} ${fresh.exact ? '' : 'at least '}${number(fresh.count)} jobs…`}
              confirmLabel={`Yes, ${verb.toLowerCase()} them`}
              onConfirm={run}
            />
          )}
          <Sample jobs={fresh.sample} />
        </div>
      )}
    </section>
  );
}

function Confirm(props: { label: string; confirmLabel: string; onConfirm: () => Promise<void> }) {
  const { canChange } = useSigned();
  const [asking, setAsking] = useState(false);
  if (!asking)
    return (
      <button
        type="button"
        name="bulk-start"
        class="danger"
        disabled={!canChange}
        title={canChange ? undefined : 'A reader token changes nothing'}
        onClick={() => setAsking(true)}
      >
        {props.label}
      </button>
    );
  return (
    <p class="confirm" role="group">
      This changes the jobs matching the filter when it runs, in batches; a job that starts matching meanwhile
      may be changed too.{' '}
      <ActionButton name="bulk-confirm" kind="danger" onClick={props.onConfirm}>
        {props.confirmLabel}
      </ActionButton>{' '}
      <button type="button" onClick={() => setAsking(false)}>
        Back
      </button>
    </p>
  );
}

function Sample({ jobs }: { jobs: Preview['sample'] }) {
  if (jobs.length === 0) return null;
  return (
    <table class="grid" data-testid="bulk-sample">
      <caption>The newest of them</caption>
      <thead>
        <tr>
          <th>job</th>
          <th>type</th>
          <th>status</th>
          <th>created</th>
          <th>last error</th>
        </tr>
      </thead>
      <tbody>
        {jobs.map((job) => (
          <tr key={job.id}>
            <td>
              <a href={hrefOf.job(job.id)}>{job.id.slice(0, 8)}</a>
            </td>
            <td>{job.jobType}</td>
            <td>
              <Status status={job.status} />
            </td>
            <td>
              <Ago at={job.createdAt} />
            </td>
            <td class="error-text">{job.errorMessage ?? ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
