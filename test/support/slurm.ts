// A real, private, single-node Slurm cluster in a temporary folder, for the tests of
// `ptg run --executor slurm`: its own slurm.conf, munge key and munged (run as munge), slurmctld
// and slurmd (as root) on free ports. It never reads /etc/slurm nor talks to the system's munged,
// so system services, if any, are left alone. Needs root and the Debian packages slurm-wlm and
// munge (.ci/run installs them). Accounting (slurmdbd, sacct) stays off.
//
// Two clusters may run at once: each has its own folder, ports and munged. Their slurmds share
// the NodeName (this host's short name) without harm: a slurmd keeps its step sockets in its own
// SlurmdSpoolDir, and each cluster counts job ids from 1 (so two clusters share job ids: talk to
// one only through its `env`). slurmctld and slurmd listen on all interfaces (22.05 can bind one
// address only through the host name's, CommunicationParameters=NoInAddrAny); the ports are random.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface PrivateSlurm {
  /** `{ SLURM_CONF }`: give it to sbatch, squeue, scancel, scontrol and ptg (on top of process.env). */
  env: Record<string, string>;
  /** The slurm.conf path. */
  conf: string;
  /** The temporary folder holding everything (conf, key, state, spool, logs). */
  dir: string;
  /** The one partition, the default: `debug`. */
  partition: string;
  /** The node's name (this host's short name) and the CPUs it advertises. */
  node: string;
  cpus: number;
  /** The last lines of the slurmctld, slurmd and munged logs, for a failing test's message. */
  logs(lines?: number): string;
  /** Cancels every job, stops the daemons and removes the folder; safe to call twice. */
  stop(): Promise<void>;
}

const SBIN = ['/usr/sbin', '/sbin', '/usr/local/sbin'];
const PARTITION = 'debug';
const STARTUP_MS = 60_000;
const GRACE_MS = 5_000;

/** An executable's path, looked up in $PATH and the sbin folders, or undefined. */
function which(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...SBIN];
  for (const dir of dirs) {
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

function bin(name: string): string {
  const file = which(name);
  if (!file) throw new Error(`${name} not found`);
  return file;
}

/** Why the Slurm tests cannot run here, or undefined when they can. */
export function slurmUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'a private Slurm needs Linux';
  if (process.getuid?.() !== 0) return 'a private Slurm needs root (slurmd runs jobs as their user, munged as munge)';
  const missing = ['sbatch', 'squeue', 'scancel', 'scontrol', 'sinfo', 'slurmctld', 'slurmd', 'munged', 'munge', 'runuser'].filter((b) => !which(b));
  if (missing.length) return `missing ${missing.join(', ')} (apt-get install --no-install-recommends slurm-wlm munge)`;
  try {
    execFileSync('id', ['-u', 'munge'], { stdio: 'ignore' });
  } catch {
    return 'no munge user (apt-get install munge)';
  }
  return undefined;
}

/** Free TCP ports on this host, all held open at once so they differ. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<net.Server>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve(server));
    })),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function slurmConf(dir: string, host: string, ports: number[], cpus: number): string {
  return `# A private test cluster (test/support/slurm.ts); everything lives in ${dir}.
ClusterName=ptg${crypto.randomBytes(3).toString('hex')}
SlurmctldHost=${host}(127.0.0.1)
SlurmctldPort=${ports[0]}
SlurmdPort=${ports[1]}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=${dir}/munge/munge.socket
StateSaveLocation=${dir}/ctld
SlurmdSpoolDir=${dir}/slurmd
SlurmctldPidFile=${dir}/slurmctld.pid
SlurmdPidFile=${dir}/slurmd.pid
SlurmctldLogFile=${dir}/log/slurmctld.log
SlurmdLogFile=${dir}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
PlugStackConfig=${dir}/plugstack.conf
# No cgroups: processes are tracked through /proc, tasks are not bound.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# No accounting at all.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# slurmctld schedules batch jobs on its background tick, once a second (fixed in 22.05); these make
# every tick schedule (no 3 s batch_sched_delay, a full pass each second). Measured: a job starts
# 0.1-1.1 s after sbatch, an afterany job 0.1-1 s after the array's last task ends.
SchedulerType=sched/builtin
SchedulerParameters=batch_sched_delay=0,sched_interval=1,sched_min_interval=0,default_queue_depth=1000
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
# Finished jobs stay in \`scontrol show job\` (and \`squeue -t all\`) for 5 minutes.
MinJobAge=300
# scancel and time limits: SIGTERM, then SIGKILL 1 s later.
KillWait=1
InactiveLimit=0
Waittime=0
MessageTimeout=10
ReturnToService=2
# The node advertises ${cpus} CPUs whatever the machine has, so that many tasks run at once.
SlurmdParameters=config_overrides
NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus} State=UNKNOWN
PartitionName=${PARTITION} Nodes=${host} Default=YES MaxTime=INFINITE State=UP
`;
}

/** munged (as munge) refuses folders others can write to, its own must be 0755 for the socket, and it must traverse ours. */
function startMunged(dir: string): void {
  const munge = path.join(dir, 'munge');
  const uid = Number(execFileSync('id', ['-u', 'munge'], { encoding: 'utf8' }));
  const gid = Number(execFileSync('id', ['-g', 'munge'], { encoding: 'utf8' }));
  fs.mkdirSync(munge);
  fs.chmodSync(munge, 0o755); // clients must reach the socket; munged wants execute for all here
  fs.chownSync(munge, uid, gid);
  const key = path.join(munge, 'munge.key');
  fs.writeFileSync(key, crypto.randomBytes(1024), { mode: 0o400 });
  fs.chownSync(key, uid, gid);
  // munged forks and returns once its socket is ready.
  execFileSync(bin('runuser'), ['-u', 'munge', '--', bin('munged'),
    `--socket=${munge}/munge.socket`, `--key-file=${key}`, `--pid-file=${munge}/munged.pid`,
    `--log-file=${munge}/munged.log`, `--seed-file=${munge}/munged.seed`], { stdio: 'pipe' });
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone already
  }
}

/** A Slurm client command's stdout; throws with its stderr. */
function slurm(command: string, args: string[], env: NodeJS.ProcessEnv): string {
  return execFileSync(bin(command), args, { env, encoding: 'utf8', stdio: 'pipe', timeout: 10_000 });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The slurmstepds of this cluster (they carry its SLURM_CONF from slurmd) and their descendants. */
function stepProcesses(conf: string): number[] {
  const parent = new Map<number, number>();
  const roots: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    const pid = Number(entry);
    if (!pid) continue;
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      parent.set(pid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      if (!stat.includes('(slurmstepd)')) continue;
      if (fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`SLURM_CONF=${conf}`)) roots.push(pid);
    } catch {
      // ended meanwhile
    }
  }
  const found = new Set(roots);
  for (let size = 0; found.size > size; ) {
    size = found.size;
    for (const [pid, ppid] of parent) if (found.has(ppid)) found.add(pid);
  }
  return [...found];
}

/** SIGTERM, then SIGKILL after the grace period; resolves once all are gone. */
async function terminate(pids: number[]): Promise<void> {
  for (const pid of pids) signal(pid, 'SIGTERM');
  const until = Date.now() + GRACE_MS;
  while (pids.some(alive) && Date.now() < until) await sleep(50);
  for (const pid of pids.filter(alive)) signal(pid, 'SIGKILL');
  while (pids.some(alive)) await sleep(50);
}

function tail(file: string, lines: number): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch (e) {
    return `(${(e as Error).message})`;
  }
}

const PID_FILES = ['slurmd.pid', 'slurmctld.pid', 'munge/munged.pid'];
const LOGS = ['log/slurmctld.log', 'log/slurmd.log', 'munge/munged.log'];

/** Starts a private cluster and waits until it has run a first job (~3 s); throws with the logs if it will not. */
export async function startSlurm(opts: { cpus?: number } = {}): Promise<PrivateSlurm> {
  const reason = slurmUnavailable();
  if (reason) throw new Error(`Slurm unavailable: ${reason}`);
  const deadline = Date.now() + STARTUP_MS;
  const cpus = opts.cpus ?? 8;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptg-slurm-'));
  fs.chmodSync(dir, 0o755);
  for (const sub of ['ctld', 'slurmd', 'log']) fs.mkdirSync(path.join(dir, sub));
  fs.writeFileSync(path.join(dir, 'plugstack.conf'), '');
  const node = execFileSync('hostname', ['-s'], { encoding: 'utf8' }).trim();
  const conf = path.join(dir, 'slurm.conf');
  fs.writeFileSync(conf, slurmConf(dir, node, await freePorts(2), cpus));
  const env = { SLURM_CONF: conf };
  const daemonEnv = { ...process.env, ...env };

  // On an unexpected exit (a test that never calls stop, or dies during stop), no daemon outlives
  // the tests. A death by signal skips this: then `pgrep -a slurm` shows what is left.
  const killNow = () => {
    for (const pid of [...PID_FILES.map((f) => readPid(path.join(dir, f))), ...stepProcesses(conf)]) if (pid) signal(pid, 'SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', killNow);
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= stopCluster(dir, conf, daemonEnv).then(() => void process.removeListener('exit', killNow)));
  const logs = (lines = 30) => LOGS.map((f) => `--- ${f}\n${tail(path.join(dir, f), lines)}`).join('\n');
  const cluster: PrivateSlurm = { env, conf, dir, partition: PARTITION, node, cpus, logs, stop };
  try {
    startMunged(dir);
    execFileSync(bin('slurmctld'), [], { env: daemonEnv, stdio: 'pipe' }); // both fork and return
    execFileSync(bin('slurmd'), [], { env: daemonEnv, stdio: 'pipe' });
    await waitIdle(cluster, daemonEnv, deadline);
    await warmUp(cluster, daemonEnv, deadline);
  } catch (e) {
    const message = `private Slurm in ${dir} did not start: ${(e as Error).message}\n${logs()}`;
    await stop();
    throw new Error(message);
  }
  return cluster;
}

/** Cancels every job, waits for their processes to end, stops the daemons, removes the folder. */
async function stopCluster(dir: string, conf: string, env: NodeJS.ProcessEnv): Promise<void> {
  try {
    slurm('scancel', ['--user=root'], env);
  } catch {
    // no controller, or nothing to cancel
  }
  const until = Date.now() + GRACE_MS;
  while (stepProcesses(conf).length && Date.now() < until) await sleep(100);
  await terminate(stepProcesses(conf));
  // slurmd before slurmctld (no node-down noise), munged last (both talk to it on the way out).
  for (const f of PID_FILES) {
    const pid = readPid(path.join(dir, f));
    if (pid) await terminate([pid]);
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * Runs one job to its end. slurmctld reads SchedulerParameters at its first scheduling pass, which
 * comes 3 s after its start (the built-in batch_sched_delay); until then the settings above do not
 * hold, and a test's first job would wait those seconds. This also proves that jobs really run.
 */
async function warmUp(cluster: PrivateSlurm, env: NodeJS.ProcessEnv, deadline: number): Promise<void> {
  const id = slurm('sbatch', ['--parsable', '--job-name=warm-up', '--output=/dev/null', `--chdir=${cluster.dir}`, '--wrap=true'], env).trim();
  let state = '';
  for (;;) {
    state = /JobState=(\S+)/.exec(slurm('scontrol', ['show', 'job', '-o', id], env))?.[1] ?? '';
    if (state === 'COMPLETED') return;
    if (!['PENDING', 'CONFIGURING', 'RUNNING', 'COMPLETING'].includes(state)) throw new Error(`warm-up job ${id} ended ${state}`);
    if (Date.now() > deadline) throw new Error(`warm-up job ${id} still ${state} after ${STARTUP_MS / 1000} s`);
    await sleep(100);
  }
}

/** Polls sinfo until the node is idle (accepting jobs). */
async function waitIdle(cluster: PrivateSlurm, env: NodeJS.ProcessEnv, deadline: number): Promise<void> {
  let state = '';
  for (;;) {
    try {
      state = slurm('sinfo', ['-h', '-N', '-n', cluster.node, '-o', '%T'], env).trim();
    } catch (e) {
      state = String((e as { stderr?: string }).stderr ?? e).trim();
    }
    if (state === 'idle') return;
    if (Date.now() > deadline) throw new Error(`node ${cluster.node} not idle after ${STARTUP_MS / 1000} s (sinfo: ${state || 'nothing'})`);
    await sleep(100);
  }
}
