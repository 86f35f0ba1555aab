// Compatibility scenarios for kafkajs. Usage: node scenario.js SCENARIO
// The verdict is the last line printed: "ok: ...", "fail: ..." or "n/a: ...",
// with exit code 0, 1 or 3 (see compat/README.md).
'use strict';

const { Kafka, CompressionTypes, CompressionCodecs, ConfigResourceTypes, logLevel } = require('kafkajs');
CompressionCodecs[CompressionTypes.Snappy] = require('kafkajs-snappy');

const BOOTSTRAP = process.env.COMPAT_BOOTSTRAP || '127.0.0.1:9092';
const RUN = process.env.COMPAT_RUN || String(Date.now());
const WAIT = 1000 * Number(process.env.COMPAT_WAIT_SECONDS || 25);
// The replication factor every scenario creates its topics with (3 against a 3-node cluster).
const RF = Number(process.env.COMPAT_RF || 1);

class Failure extends Error {}
class NotApplicable extends Error {}

const kafka = new Kafka({
  clientId: 'compat-kafkajs',
  brokers: [BOOTSTRAP],
  logLevel: logLevel.ERROR,
  connectionTimeout: 5000,
  requestTimeout: 10000,
  retry: { retries: 3, maxRetryTime: 5000 },
});

const topicName = (s) => `compat-kafkajs-${s}-${RUN}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function poll(cond, what, errs = () => null) {
  const deadline = Date.now() + WAIT;
  for (;;) {
    const e = errs();
    if (e) throw new Failure(`${what}: ${e}`);
    if (cond()) return;
    if (Date.now() > deadline) throw new Failure(`${what}: not within ${WAIT / 1000}s`);
    await sleep(50);
  }
}

async function withAdmin(fn) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

async function createTopic(topic, numPartitions, configEntries = []) {
  try {
    await withAdmin(async (admin) => {
      await admin.createTopics({ topics: [{ topic, numPartitions, replicationFactor: RF, configEntries }], waitForLeaders: true, timeout: WAIT });
    });
  } catch (e) {
    throw new Failure(`create topic ${topic}: ${reason(e)}`);
  }
}

// produce sends messages one request at a time when exact is set, so that each
// record's partition and offset are known; otherwise in one request.
async function produce(topic, messages, { compression = CompressionTypes.None, idempotent = false, exact = false } = {}) {
  const producer = kafka.producer({ idempotent, maxInFlightRequests: idempotent ? 1 : undefined, allowAutoTopicCreation: false });
  await producer.connect();
  try {
    if (!exact) {
      const md = await producer.send({ topic, compression, acks: -1, timeout: WAIT, messages });
      return md;
    }
    const out = [];
    for (const m of messages) {
      const [md] = await producer.send({ topic, compression, acks: -1, timeout: WAIT, messages: [m] });
      out.push(`${md.partition}/${md.baseOffset}`);
    }
    return out;
  } finally {
    await producer.disconnect();
  }
}

// readAll reads the topic from the beginning with a fresh group (kafkajs can
// only consume through a consumer group) until want records arrived.
async function readAll(topic, want, readCommitted = false) {
  const consumer = kafka.consumer({ groupId: `compat-kafkajs-reader-${topic}-${Date.now()}`, readUncommitted: !readCommitted, maxWaitTimeInMs: 200 });
  const out = [];
  let crash = null;
  consumer.on(consumer.events.CRASH, (e) => { crash = reason(e.payload.error); });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        const headers = {};
        for (const [k, v] of Object.entries(message.headers || {})) headers[k] = v.toString();
        out.push({ key: message.key && message.key.toString(), value: message.value && message.value.toString(), partition, offset: message.offset, headers });
      },
    });
    await poll(() => out.length >= want, `read ${topic} (${out.length} of ${want} records)`, () => crash);
    await sleep(300); // a record beyond those wanted would show up here
    return out;
  } finally {
    await consumer.disconnect();
  }
}

function sameInOrder(want, got) {
  for (let i = 0; i < Math.max(want.length, got.length); i++) {
    const w = i < want.length ? `${want[i].key}=${want[i].value}` : 'nothing';
    const g = i < got.length ? `${got[i].key}=${got[i].value}` : 'nothing';
    if (w !== g) throw new Failure(`record ${i} is ${g}, want ${w} (${got.length} read, ${want.length} expected)`);
  }
}

const scenarios = {
  async version() {
    return require('kafkajs/package.json').version;
  },

  async admin() {
    const topic = topicName('admin');
    await withAdmin(async (admin) => {
      await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: RF, configEntries: [{ name: 'retention.ms', value: '3600000' }] }], waitForLeaders: true, timeout: WAIT });
      if (!(await admin.listTopics()).includes(topic)) throw new Failure('created topic missing from listTopics');
      const md = await admin.fetchTopicMetadata({ topics: [topic] });
      const n = md.topics[0].partitions.length;
      if (n !== 3) throw new Failure(`fetchTopicMetadata: ${n} partitions, want 3`);
      for (const p of md.topics[0].partitions) {
        if (new Set(p.replicas).size !== RF) throw new Failure(`fetchTopicMetadata: partition ${p.partitionId} has replicas [${p.replicas}], want ${RF} distinct brokers (COMPAT_RF)`);
      }
      const cfg = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['retention.ms'] }], includeSynonyms: false });
      const entry = cfg.resources[0].configEntries.find((e) => e.configName === 'retention.ms');
      if (!entry || entry.configValue !== '3600000') throw new Failure(`describeConfigs retention.ms=${entry && entry.configValue}, want 3600000`);
      await admin.deleteTopics({ topics: [topic], timeout: WAIT });
    });
    await withAdmin(async (admin) => {
      const deadline = Date.now() + WAIT;
      while ((await admin.listTopics()).includes(topic)) {
        if (Date.now() > deadline) throw new Failure('deleted topic still listed');
        await sleep(100);
      }
    });
    return `create, list, describe (${RF} replicas each), describe configs, delete`;
  },

  async produce() {
    const topic = topicName('produce');
    await createTopic(topic, 1);
    const codecs = [['none', CompressionTypes.None], ['gzip', CompressionTypes.GZIP], ['snappy', CompressionTypes.Snappy]];
    const want = [];
    for (const [name, type] of codecs) {
      const batch = Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `${name}-${i}` }));
      try {
        await produce(topic, batch, { compression: type });
      } catch (e) {
        throw new Failure(`produce with ${name}: ${reason(e)}`);
      }
      want.push(...batch);
    }
    sameInOrder(want, await readAll(topic, want.length));
    return 'none,gzip,snappy (lz4 and zstd need native codec packages)';
  },

  async consume() {
    const topic = topicName('consume');
    await createTopic(topic, 3);
    const msgs = Array.from({ length: 30 }, (_, i) => ({ key: `key-${i % 7}`, value: `value-${i}`, headers: { idx: String(i) } }));
    const where = await produce(topic, msgs, { exact: true });
    const want = new Map(where.map((w, i) => [w, `${msgs[i].key}|${msgs[i].value}|${i}`]));
    const got = new Map((await readAll(topic, 30)).map((r) => [`${r.partition}/${r.offset}`, `${r.key}|${r.value}|${r.headers.idx}`]));
    for (const [pos, w] of want) {
      if (got.get(pos) !== w) throw new Failure(`at partition/offset ${pos} read ${got.get(pos)}, want ${w} (${got.size} read, ${want.size} sent)`);
    }
    if (got.size !== want.size) throw new Failure(`read ${got.size} records, sent ${want.size}`);
    return '30 records over 3 partitions, keys, values, headers and offsets match';
  },

  async group() {
    const topic = topicName('group-classic');
    const groupId = `compat-kafkajs-classic-${RUN}`;
    await createTopic(topic, 4);
    const member = async () => {
      const m = { values: new Map(), assigned: 0, error: null };
      m.consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200, sessionTimeout: 10000, rebalanceTimeout: 10000, heartbeatInterval: 1000 });
      m.consumer.on(m.consumer.events.GROUP_JOIN, (e) => { m.assigned = (e.payload.memberAssignment[topic] || []).length; });
      m.consumer.on(m.consumer.events.CRASH, (e) => { m.error = reason(e.payload.error); });
      await m.consumer.connect();
      await m.consumer.subscribe({ topic, fromBeginning: true });
      await m.consumer.run({
        autoCommitThreshold: 1,
        eachMessage: async ({ message }) => { const v = message.value.toString(); m.values.set(v, (m.values.get(v) || 0) + 1); },
      });
      return m;
    };
    const errs = (...ms) => () => ms.map((m) => m.error).find((e) => e);
    const a = await member();
    const b = await member();
    try {
      await poll(() => a.assigned > 0 && b.assigned > 0 && a.assigned + b.assigned === 4, `two members splitting the 4 partitions (a=${a.assigned}, b=${b.assigned})`, errs(a, b));
      await produce(topic, Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, value: `value-${i}` })));
      const union = () => new Set([...a.values.keys(), ...b.values.keys()]).size;
      await poll(() => union() === 40, 'group consuming 40 records', errs(a, b));
      if (!a.values.size || !b.values.size) throw new Failure('one member consumed nothing');
      await a.consumer.stop(); // commits what was consumed
      await b.consumer.stop();
    } finally {
      await a.consumer.disconnect();
      await b.consumer.disconnect();
    }
    await produce(topic, Array.from({ length: 10 }, (_, i) => ({ key: `k${40 + i}`, value: `value-${40 + i}` })));
    const c = await member();
    try {
      await poll(() => c.values.size >= 10, 'resumed member reading the 10 new records', errs(c));
      await sleep(500);
    } finally {
      await c.consumer.disconnect();
    }
    const got = [...c.values.keys()].sort((x, y) => Number(x.split('-')[1]) - Number(y.split('-')[1]));
    const want = Array.from({ length: 10 }, (_, i) => `value-${40 + i}`);
    if (got.join() !== want.join()) throw new Failure(`resumed member read ${got.length} records ${got.slice(0, 4)}, want the 10 produced after the commit`);
    return '2 members split 4 partitions, committed, a new member resumed at the commit';
  },

  async 'group-consumer'() {
    throw new NotApplicable('kafkajs has no KIP-848 consumer protocol');
  },

  async idempotent() {
    const topic = topicName('idempotent');
    await createTopic(topic, 1);
    const msgs = Array.from({ length: 100 }, (_, i) => ({ key: `k${i}`, value: `value-${i}` }));
    const [md] = await produce(topic, msgs, { idempotent: true });
    if (md.baseOffset !== '0') throw new Failure(`first record acknowledged at offset ${md.baseOffset}`);
    sameInOrder(msgs, await readAll(topic, 100));
    return '100 records, offsets 0..99, no duplicates';
  },

  async txn() {
    const topic = topicName('txn');
    await createTopic(topic, 1);
    const producer = kafka.producer({ transactionalId: `compat-kafkajs-txn-${RUN}`, idempotent: true, maxInFlightRequests: 1, transactionTimeout: 30000 });
    await producer.connect();
    const want = [];
    try {
      for (const [name, commit] of [['commit1', true], ['abort', false], ['commit2', true]]) {
        const msgs = Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, value: `${name}-${i}` }));
        const tx = await producer.transaction();
        await tx.send({ topic, messages: msgs, acks: -1 });
        if (commit) {
          await tx.commit();
          want.push(...msgs);
        } else {
          await tx.abort();
        }
      }
    } finally {
      await producer.disconnect();
    }
    sameInOrder(want, await readAll(topic, want.length, true));
    return 'commit, abort, commit; read_committed sees only the 10 committed';
  },
};

function reason(e) {
  if (e instanceof Failure || e instanceof NotApplicable) return e.message;
  const msg = String((e && e.message) || e).split('\n')[0];
  return `${(e && e.name) || 'Error'}: ${msg}`;
}

async function main() {
  const name = process.argv[2];
  const run = scenarios[name];
  if (!run) {
    console.log(`fail: unknown scenario ${name}`);
    process.exit(2);
  }
  const timer = new Promise((_, reject) => setTimeout(() => reject(new Failure(`scenario not done within ${(4 * WAIT) / 1000}s`)), 4 * WAIT));
  try {
    const detail = await Promise.race([run(), timer]);
    console.log(`ok: ${detail}`);
    process.exit(0);
  } catch (e) {
    if (e instanceof NotApplicable) {
      console.log(`n/a: ${e.message}`);
      process.exit(3);
    }
    if (!(e instanceof Failure)) console.error(e);
    console.log(`fail: ${reason(e)}`);
    process.exit(1);
  }
}

main();
