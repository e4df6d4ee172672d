import { useState } from 'preact/hooks';
import type { Job, Outputs } from '../api';
import { ActionButton, Ago, ConfirmAction, ErrorNote, Status, useLoad } from '../components';
import { useSigned } from '../session';

type Entity = Outputs['jobs']['entity'];

interface Moment {
  at: Date;
  what: string;
}

/** What happened to the job, in order, from the moments it records. */
function timelineOf(job: Job): Moment[] {
  const moments: (Moment | undefined)[] = [
    { at: job.createdAt, what: 'queued' },
    job.startedAt ? { at: job.startedAt, what: 'first started' } : undefined,
    job.lockedAt
      ? { at: job.lockedAt, what: `claimed by ${job.lockedBy ?? 'a worker'} (attempt ${job.attempts})` }
      : undefined,
    job.requeuedAt
      ? {
          at: job.requeuedAt,
          what: `taken from ${job.requeuedFrom ?? 'its worker'} by ${job.requeuedBy ?? 'an admin'}: ${job.requeueReason ?? ''}`,
        }
      : undefined,
    job.status === 'queued'
      ? { at: job.runAfter, what: job.waitReason ? `due again (${job.waitReason})` : 'due' }
      : undefined,
    job.status === 'running' && job.leaseExpiresAt
      ? { at: job.leaseExpiresAt, what: 'lease ends' }
      : undefined,
    job.completedAt ? { at: job.completedAt, what: job.status } : undefined,
  ];
  return moments.filter((moment) => moment !== undefined).sort((a, b) => a.at.getTime() - b.at.getTime());
}

export function JobView({ id }: { id: string }) {
  const { client } = useSigned();
  const { data, error, reload } = useLoad(async () => {
    const job = await client.jobs.get.query({ id, include: ['session'] });
    const entity = await client.jobs.entity.query({ id }).catch(() => undefined);
    return { job, entity };
  }, [client, id]);
  return (
    <section>
      <h1>Job {id}</h1>
      <ErrorNote error={error} />
      {data && <JobDetails job={data.job} entity={data.entity} onChange={reload} />}
    </section>
  );
}

function JobDetails({
  job,
  entity,
  onChange,
}: {
  job: Job;
  entity: Entity | undefined;
  onChange: () => Promise<void>;
}) {
  const { client } = useSigned();
  const act = (call: () => Promise<unknown>) => async () => {
    await call();
    await onChange();
  };
  return (
    <>
      <div class="actions toolbar" data-testid="job-actions">
        {job.status === 'failed' && (
          <ActionButton
            name="retry"
            kind="primary"
            onClick={act(() => client.jobs.retry.mutate({ id: job.id }))}
          >
            Retry
          </ActionButton>
        )}
        {(job.status === 'queued' || job.status === 'running') && (
          <ConfirmAction
            name="cancel"
            label="Cancel"
            question="Cancel this job? A worker running it is rejected when it reports."
            confirmLabel="Cancel job"
            onConfirm={act(() => client.jobs.cancel.mutate({ id: job.id }))}
          />
        )}
        {job.status === 'running' && <Requeue job={job} onChange={onChange} />}
      </div>
      <dl class="facts" data-testid="job">
        <dt>status</dt>
        <dd>
          <Status status={job.status} />
          {job.held && <span class="small muted"> held by its paused session</span>}
        </dd>
        <dt>type</dt>
        <dd>{job.jobType}</dd>
        <dt>attempts</dt>
        <dd data-testid="attempts">
          {job.attempts} of {job.maxAttempts}
        </dd>
        <dt>priority</dt>
        <dd>{job.priority}</dd>
        <dt>last error</dt>
        <dd class="error-text" data-testid="error">
          {job.errorMessage ?? <span class="muted">none</span>}
        </dd>
        {job.waitReason && (
          <>
            <dt>waits for</dt>
            <dd>
              {job.waitReason}
              {job.waitDetail ? `: ${job.waitDetail}` : ''} until <Ago at={job.runAfter} />
            </dd>
          </>
        )}
        <dt>worker</dt>
        <dd>
          {job.lockedBy ?? <span class="muted">none</span>}
          {job.status === 'running' && job.leaseExpiresAt && (
            <span class="small">
              {' '}
              (leased, ends <Ago at={job.leaseExpiresAt} />)
            </span>
          )}
        </dd>
        <dt>session</dt>
        <dd>
          {job.session ? (
            `${job.session.sessionName} (${job.session.status})`
          ) : (
            <span class="muted">none</span>
          )}
        </dd>
        <dt>rate key</dt>
        <dd>{job.rateKey}</dd>
      </dl>
      <h2>Timeline</h2>
      <ol class="timeline" data-testid="timeline">
        {timelineOf(job).map((moment) => (
          <li key={`${moment.what}-${moment.at.getTime()}`}>
            <time dateTime={moment.at.toISOString()}>
              {moment.at.toISOString().replace('T', ' ').slice(0, 19)} UTC
            </time>{' '}
            {moment.what}
          </li>
        ))}
      </ol>
      <h2>About</h2>
      <EntityFacts entity={entity} job={job} />
      {job.result !== null && (
        <>
          <h2>Result</h2>
          <pre>{JSON.stringify(job.result, null, 2)}</pre>
        </>
      )}
      <h2>Metadata</h2>
      <pre>{JSON.stringify(job.metadata, null, 2)}</pre>
    </>
  );
}

function EntityFacts({ entity, job }: { entity: Entity | undefined; job: Job }) {
  if (!entity)
    return (
      <p class="muted">
        The {job.entityType} {job.entityId} no longer exists.
      </p>
    );
  if (entity.entityType === 'video')
    return (
      <dl class="facts" data-testid="entity">
        <dt>video</dt>
        <dd>
          <a href={entity.video.videoUrl} rel="noreferrer" target="_blank">
            {entity.video.title}
          </a>
        </dd>
        <dt>YouTube id</dt>
        <dd>{entity.video.youtubeVideoId}</dd>
        <dt>video status</dt>
        <dd>
          <Status status={entity.video.status} />
        </dd>
      </dl>
    );
  return (
    <dl class="facts" data-testid="entity">
      <dt>channel</dt>
      <dd>
        <a href={entity.channel.channelUrl} rel="noreferrer" target="_blank">
          {entity.channel.name}
        </a>
      </dd>
      <dt>YouTube id</dt>
      <dd>{entity.channel.youtubeChannelId}</dd>
      <dt>last checked</dt>
      <dd>
        <Ago at={entity.channel.lastCheckedAt} />
      </dd>
    </dl>
  );
}

function Requeue({ job, onChange }: { job: Job; onChange: () => Promise<void> }) {
  const { client } = useSigned();
  const [requeuedBy, setBy] = useState('');
  const [reason, setReason] = useState('');
  return (
    <span class="requeue">
      <input
        name="requeuedBy"
        placeholder="your name"
        value={requeuedBy}
        onInput={(event) => setBy(event.currentTarget.value)}
      />
      <input
        name="reason"
        placeholder="why take it from its worker"
        value={reason}
        onInput={(event) => setReason(event.currentTarget.value)}
      />
      <ActionButton
        name="requeue"
        disabled={requeuedBy.trim() === '' || reason.trim() === ''}
        onClick={async () => {
          await client.jobs.requeue.mutate({ id: job.id, requeuedBy, reason });
          await onChange();
        }}
      >
        Requeue
      </ActionButton>
    </span>
  );
}
