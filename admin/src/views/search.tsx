import { useState } from 'preact/hooks';
import { type Client, codeOf, type Outputs } from '../api';
import { Ago, ErrorNote, Status, useLoad } from '../components';
import { hrefOf } from '../route';
import { useSigned } from '../session';

type Video = Outputs['videos']['get'];
type Channel = Outputs['channels']['get'];
type JobPage = Outputs['jobs']['list'];

type Found =
  | { kind: 'video'; video: Video; jobs: JobPage }
  | { kind: 'channel'; channel: Channel; jobs: JobPage }
  | { kind: 'job'; id: string }
  | { kind: 'none'; reason: string };

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const channelIdPattern = /^UC[A-Za-z0-9_-]{22}$/;
const videoIdPattern = /^[A-Za-z0-9_-]{11}$/;

/** The id a pasted YouTube address holds (`watch?v=`, `youtu.be/`, `/channel/`), or the text as it is. */
function idIn(text: string): string {
  const trimmed = text.trim();
  try {
    const url = new URL(trimmed);
    const video = url.searchParams.get('v');
    if (video) return video;
    if (url.hostname === 'youtu.be') return url.pathname.slice(1);
    const channel = /\/channel\/(UC[A-Za-z0-9_-]{22})/.exec(url.pathname);
    if (channel) return channel[1]!;
  } catch {
    // Not an address: the text is the id.
  }
  return trimmed;
}

/** A read that resolves to undefined when the row does not exist. */
async function unlessMissing<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read;
  } catch (error) {
    if (codeOf(error) === 'NOT_FOUND') return undefined;
    throw error;
  }
}

const jobsAbout = (client: Client, entityId: string) => client.jobs.list.query({ entityId, limit: 20 });

async function find(client: Client, text: string): Promise<Found> {
  const id = idIn(text);
  if (uuidPattern.test(id)) {
    if (await unlessMissing(client.jobs.get.query({ id }))) return { kind: 'job', id };
    const video = await unlessMissing(client.videos.get.query({ id }));
    if (video) return { kind: 'video', video, jobs: await jobsAbout(client, id) };
    const channel = await unlessMissing(client.channels.get.query({ id }));
    if (channel) return { kind: 'channel', channel, jobs: await jobsAbout(client, id) };
    return { kind: 'none', reason: `No job, video or channel has the id ${id}.` };
  }
  if (channelIdPattern.test(id)) {
    const channel = await unlessMissing(client.channels.getByYoutubeId.query({ youtubeChannelId: id }));
    if (!channel) return { kind: 'none', reason: `No channel has the YouTube id ${id}.` };
    return { kind: 'channel', channel, jobs: await jobsAbout(client, channel.id) };
  }
  if (videoIdPattern.test(id)) {
    const video = await unlessMissing(client.videos.getByYoutubeId.query({ youtubeVideoId: id }));
    if (!video) return { kind: 'none', reason: `No video has the YouTube id ${id}.` };
    return { kind: 'video', video, jobs: await jobsAbout(client, video.id) };
  }
  return {
    kind: 'none',
    reason: 'Give a job id, a YouTube video id (11 characters), a channel id (UC and 22 more) or an address.',
  };
}

export function SearchView({ query }: { query: string }) {
  const { client } = useSigned();
  const [text, setText] = useState(query);
  const { data, error } = useLoad(async () => {
    if (!query) return undefined;
    const found = await find(client, query);
    if (found.kind === 'job') location.replace(hrefOf.job(found.id));
    return found;
  }, [client, query]);
  return (
    <section>
      <h1>Search</h1>
      <form
        class="search"
        onSubmit={(event) => {
          event.preventDefault();
          location.hash = hrefOf.search(text.trim());
        }}
      >
        <input
          type="search"
          name="q"
          placeholder="job id, YouTube video id, channel id or address"
          value={text}
          onInput={(event) => setText(event.currentTarget.value)}
        />
        <button type="submit" class="primary">
          Find
        </button>
      </form>
      <ErrorNote error={error} />
      {data?.kind === 'none' && <p class="muted">{data.reason}</p>}
      {data?.kind === 'video' && (
        <>
          <h2>Video</h2>
          <dl class="facts" data-testid="found-video">
            <dt>title</dt>
            <dd>{data.video.title}</dd>
            <dt>YouTube id</dt>
            <dd>
              <a href={data.video.videoUrl} rel="noreferrer" target="_blank">
                {data.video.youtubeVideoId}
              </a>
            </dd>
            <dt>status</dt>
            <dd>
              <Status status={data.video.status} />
            </dd>
            <dt>published</dt>
            <dd>
              <Ago at={data.video.publishedAt} />
            </dd>
          </dl>
          <JobList page={data.jobs} />
        </>
      )}
      {data?.kind === 'channel' && (
        <>
          <h2>Channel</h2>
          <dl class="facts" data-testid="found-channel">
            <dt>name</dt>
            <dd>{data.channel.name}</dd>
            <dt>YouTube id</dt>
            <dd>
              <a href={data.channel.channelUrl} rel="noreferrer" target="_blank">
                {data.channel.youtubeChannelId}
              </a>
            </dd>
            <dt>status</dt>
            <dd>
              <Status status={data.channel.status} />
            </dd>
            <dt>last checked</dt>
            <dd>
              <Ago at={data.channel.lastCheckedAt} />
            </dd>
          </dl>
          <JobList page={data.jobs} />
        </>
      )}
    </section>
  );
}

export function JobList({ page }: { page: JobPage }) {
  if (page.items.length === 0) return <p class="muted">No job is about it.</p>;
  return (
    <>
      <h2>Its jobs</h2>
      <table class="grid" data-testid="jobs">
        <thead>
          <tr>
            <th>job</th>
            <th>type</th>
            <th>status</th>
            <th class="num">attempts</th>
            <th>created</th>
            <th>last error</th>
          </tr>
        </thead>
        <tbody>
          {page.items.map((job) => (
            <tr key={job.id}>
              <td>
                <a href={hrefOf.job(job.id)}>{job.id.slice(0, 8)}</a>
              </td>
              <td>{job.jobType}</td>
              <td>
                <Status status={job.status} />
              </td>
              <td class="num">
                {job.attempts}/{job.maxAttempts}
              </td>
              <td>
                <Ago at={job.createdAt} />
              </td>
              <td class="error-text">{job.errorMessage ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
