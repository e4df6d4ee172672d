import { useState } from 'preact/hooks';
import type { Outputs } from '../api';
import { ActionButton, Ago, ErrorNote, number, Status, useLoad } from '../components';
import { useSigned } from '../session';

type JobTypeSettings = Outputs['jobs']['types'][number];
type Budget = Outputs['budgets']['list'][number];
type RateKey = Outputs['rateKeys']['list']['items'][number];
type Channel = Outputs['channels']['list']['items'][number];

/** A whole number from a field, or null when it is empty. */
const wholeOrNull = (text: string): number | null => (text.trim() === '' ? null : Number(text));
const textOf = (value: number | string | null | undefined) =>
  value === null || value === undefined ? '' : String(value);

/** A field that only an admin may edit. */
function Field(props: {
  name: string;
  label: string;
  value: string;
  onInput: (value: string) => void;
  placeholder?: string;
  type?: 'number' | 'text';
}) {
  const { canChange } = useSigned();
  const common = {
    name: props.name,
    'aria-label': props.label,
    title: props.label,
    placeholder: props.placeholder,
    value: props.value,
    readOnly: !canChange,
    onInput: (event: { currentTarget: HTMLInputElement }) => props.onInput(event.currentTarget.value),
  };
  return props.type === 'text' ? <input type="text" {...common} /> : <input type="number" {...common} />;
}

export function LimitsView() {
  return (
    <section>
      <h1>Limits and schedules</h1>
      <JobTypes />
      <Budgets />
      <RateKeys />
      <Schedules />
    </section>
  );
}

function JobTypes() {
  const { client } = useSigned();
  const { data, error, reload } = useLoad(() => client.jobs.types.query(), [client]);
  return (
    <>
      <h2>Job types</h2>
      <p class="muted small">
        A running limit caps the type's jobs running at once across all workers (empty: none, 0: stops the
        type); a rate caps its starts per interval; a cost spends a budget's units on each start.
      </p>
      <ErrorNote error={error} />
      {data && (
        <table class="grid" data-testid="job-types">
          <thead>
            <tr>
              <th>type</th>
              <th class="num">running</th>
              <th>running limit</th>
              <th>start rate</th>
              <th>budget cost</th>
              <th>cooling down until</th>
            </tr>
          </thead>
          <tbody>
            {data.map((settings) => (
              <JobTypeRow key={settings.jobType} settings={settings} onChange={reload} />
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function JobTypeRow({ settings, onChange }: { settings: JobTypeSettings; onChange: () => Promise<void> }) {
  const { client } = useSigned();
  const [maxRunning, setMaxRunning] = useState(textOf(settings.maxRunning));
  const [maxStarts, setMaxStarts] = useState(textOf(settings.maxStarts));
  const [perSeconds, setPerSeconds] = useState(textOf(settings.perSeconds));
  const [budget, setBudget] = useState(textOf(settings.budget));
  const [units, setUnits] = useState(textOf(settings.budgetCost));
  const jobType = settings.jobType;
  return (
    <tr data-job-type={jobType}>
      <th scope="row">{jobType}</th>
      <td class="num">{number(settings.running)}</td>
      <td>
        <Field
          name="maxRunning"
          label={`running limit of ${jobType}`}
          value={maxRunning}
          onInput={setMaxRunning}
          placeholder="none"
        />
        <ActionButton
          name="set-limit"
          onClick={async () => {
            await client.jobs.setTypeLimit.mutate({ jobType, maxRunning: wholeOrNull(maxRunning) });
            await onChange();
          }}
        >
          Set
        </ActionButton>
      </td>
      <td>
        <Field
          name="maxStarts"
          label={`starts of ${jobType}`}
          value={maxStarts}
          onInput={setMaxStarts}
          placeholder="none"
        />
        {' per '}
        <Field name="perSeconds" label="seconds" value={perSeconds} onInput={setPerSeconds} placeholder="s" />
        {' s '}
        <ActionButton
          name="set-rate"
          onClick={async () => {
            const starts = wholeOrNull(maxStarts);
            await client.jobs.setTypeRate.mutate(
              starts === null
                ? { jobType, maxStarts: null }
                : { jobType, maxStarts: starts, perSeconds: Number(perSeconds) },
            );
            await onChange();
          }}
        >
          Set
        </ActionButton>
      </td>
      <td>
        <Field
          type="text"
          name="budget"
          label={`budget of ${jobType}`}
          value={budget}
          onInput={setBudget}
          placeholder="none"
        />
        <Field name="units" label="units per start" value={units} onInput={setUnits} placeholder="units" />
        <ActionButton
          name="set-cost"
          onClick={async () => {
            await client.jobs.setTypeCost.mutate(
              budget.trim() === ''
                ? { jobType, budget: null }
                : { jobType, budget: budget.trim(), units: Number(units) },
            );
            await onChange();
          }}
        >
          Set
        </ActionButton>
      </td>
      <td>
        <Ago at={settings.cooldownUntil} />
      </td>
    </tr>
  );
}

function Budgets() {
  const { client } = useSigned();
  const { data, error, reload } = useLoad(() => client.budgets.list.query(), [client], 15_000);
  return (
    <>
      <h2>Quota budgets</h2>
      <ErrorNote error={error} />
      {data && data.length === 0 && <p class="muted">No budget.</p>}
      {data && data.length > 0 && (
        <table class="grid" data-testid="budgets">
          <thead>
            <tr>
              <th>budget</th>
              <th>window</th>
              <th class="num">used</th>
              <th class="num">left</th>
              <th>resets</th>
              <th>spent until</th>
              <th>capacity</th>
            </tr>
          </thead>
          <tbody>
            {data.map((budget) => (
              <BudgetRow key={budget.name} budget={budget} onChange={reload} />
            ))}
          </tbody>
        </table>
      )}
      <NewBudget onChange={reload} />
    </>
  );
}

const windowOf = (budget: Budget) =>
  budget.timeZone ? `calendar day, ${budget.timeZone}` : `rolling ${number(budget.windowSeconds ?? 0)} s`;

function BudgetRow({ budget, onChange }: { budget: Budget; onChange: () => Promise<void> }) {
  const { client } = useSigned();
  const [capacity, setCapacity] = useState(String(budget.capacity));
  return (
    <tr data-budget={budget.name}>
      <th scope="row">{budget.name}</th>
      <td>{windowOf(budget)}</td>
      <td class="num">{number(budget.used)}</td>
      <td class="num">{number(budget.left)}</td>
      <td>
        <Ago at={budget.resetsAt} />
      </td>
      <td>
        <Ago at={budget.exhaustedUntil} />
      </td>
      <td>
        <Field name="capacity" label={`capacity of ${budget.name}`} value={capacity} onInput={setCapacity} />
        <ActionButton
          name="set-budget"
          onClick={async () => {
            await client.budgets.set.mutate({
              name: budget.name,
              capacity: Number(capacity),
              ...(budget.timeZone
                ? { timeZone: budget.timeZone }
                : { windowSeconds: budget.windowSeconds ?? 86_400 }),
            });
            await onChange();
          }}
        >
          Set
        </ActionButton>
      </td>
    </tr>
  );
}

function NewBudget({ onChange }: { onChange: () => Promise<void> }) {
  const { client } = useSigned();
  const [name, setName] = useState('');
  const [capacity, setCapacity] = useState('10000');
  const [timeZone, setTimeZone] = useState('America/Los_Angeles');
  return (
    <p class="inline-form">
      <Field
        type="text"
        name="new-budget"
        label="new budget's name"
        value={name}
        onInput={setName}
        placeholder="name"
      />
      <Field name="new-capacity" label="units per day" value={capacity} onInput={setCapacity} />
      {' units a day in '}
      <Field type="text" name="new-time-zone" label="time zone" value={timeZone} onInput={setTimeZone} />
      <ActionButton
        name="add-budget"
        disabled={name.trim() === ''}
        onClick={async () => {
          await client.budgets.set.mutate({ name: name.trim(), capacity: Number(capacity), timeZone });
          setName('');
          await onChange();
        }}
      >
        Add budget
      </ActionButton>
    </p>
  );
}

function RateKeys() {
  const { client } = useSigned();
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors.at(-1);
  const { data, error, reload } = useLoad(
    () => client.rateKeys.list.query({ limit: 20, cursor }),
    [client, cursor],
    15_000,
  );
  return (
    <>
      <h2>Rate keys</h2>
      <p class="muted small">
        Keys (a channel by default, or an egress address) with a start rate or a history of rate limits; a run
        of rate limits opens a key's breaker.
      </p>
      <ErrorNote error={error} />
      {data && data.items.length === 0 && <p class="muted">No key has a rate or a rate-limit history.</p>}
      {data && data.items.length > 0 && (
        <table class="grid" data-testid="rate-keys">
          <thead>
            <tr>
              <th>key</th>
              <th>breaker</th>
              <th class="num">limited in a row</th>
              <th>cooling down until</th>
              <th>start rate</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((key) => (
              <RateKeyRow key={key.key} rateKey={key} onChange={reload} />
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
          Previous
        </button>
        <button
          type="button"
          disabled={!data?.nextCursor}
          onClick={() => data?.nextCursor && setCursors([...cursors, data.nextCursor])}
        >
          Next
        </button>
      </div>
    </>
  );
}

function RateKeyRow({ rateKey, onChange }: { rateKey: RateKey; onChange: () => Promise<void> }) {
  const { client } = useSigned();
  const [maxStarts, setMaxStarts] = useState(textOf(rateKey.maxStarts));
  const [perSeconds, setPerSeconds] = useState(textOf(rateKey.perSeconds));
  return (
    <tr data-rate-key={rateKey.key}>
      <th scope="row">{rateKey.key}</th>
      <td>
        <Status status={rateKey.breaker} />
        {rateKey.breakerUntil && (
          <span class="small">
            {' '}
            until <Ago at={rateKey.breakerUntil} />
          </span>
        )}
      </td>
      <td class="num">{number(rateKey.rateLimitedInARow)}</td>
      <td>
        <Ago at={rateKey.cooldownUntil} />
      </td>
      <td>
        <Field
          name="maxStarts"
          label={`starts of ${rateKey.key}`}
          value={maxStarts}
          onInput={setMaxStarts}
          placeholder="none"
        />
        {' per '}
        <Field name="perSeconds" label="seconds" value={perSeconds} onInput={setPerSeconds} placeholder="s" />
        {' s '}
        <ActionButton
          name="set-key-rate"
          onClick={async () => {
            const starts = wholeOrNull(maxStarts);
            await client.rateKeys.set.mutate(
              starts === null
                ? { key: rateKey.key, maxStarts: null }
                : { key: rateKey.key, maxStarts: starts, perSeconds: Number(perSeconds) },
            );
            await onChange();
          }}
        >
          Set
        </ActionButton>
      </td>
    </tr>
  );
}

function Schedules() {
  const { client } = useSigned();
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors.at(-1);
  const { data, error, reload } = useLoad(
    () => client.channels.list.query({ limit: 20, cursor }),
    [client, cursor],
  );
  return (
    <>
      <h2>Discovery schedules</h2>
      <p class="muted small">
        A channel with a schedule is discovered that many hours after its last check; without one, only when
        asked.
      </p>
      <ErrorNote error={error} />
      {data && (
        <table class="grid" data-testid="schedules">
          <thead>
            <tr>
              <th>channel</th>
              <th>status</th>
              <th>last checked</th>
              <th>next discovery</th>
              <th>every (hours)</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((channel) => (
              <ScheduleRow key={channel.id} channel={channel} onChange={reload} />
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
    </>
  );
}

function ScheduleRow({ channel, onChange }: { channel: Channel; onChange: () => Promise<void> }) {
  const { client } = useSigned();
  const config = channel.processingConfig;
  const [hours, setHours] = useState(textOf(config.discoverEveryHours));
  return (
    <tr data-channel={channel.id}>
      <th scope="row">{channel.name}</th>
      <td>
        <Status status={channel.status} />
      </td>
      <td>
        <Ago at={channel.lastCheckedAt} />
      </td>
      <td>
        <Ago at={channel.nextDiscoveryAt} />
      </td>
      <td>
        <Field
          name="discoverEveryHours"
          label={`discovery interval of ${channel.name}`}
          value={hours}
          onInput={setHours}
          placeholder="none"
        />
        <ActionButton
          name="set-schedule"
          onClick={async () => {
            const { discoverEveryHours: _dropped, ...others } = config;
            const every = hours.trim() === '' ? undefined : Number(hours);
            await client.channels.update.mutate({
              id: channel.id,
              processingConfig: every === undefined ? others : { ...others, discoverEveryHours: every },
            });
            await onChange();
          }}
        >
          Set
        </ActionButton>
      </td>
    </tr>
  );
}
