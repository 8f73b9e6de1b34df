// BullMQ's side of the job-engine comparison: COUNT no-op jobs with the options of
// Hospeda's original design (5 attempts, exponential backoff from 5 s), processed by
// one Worker at CONCURRENCY on the same redis-server. Prints "<jobs> <seconds>".
const { Queue, Worker } = require("bullmq");

async function main() {
  const [port, count, concurrency] = process.argv.slice(2).map(Number);
  const connection = { host: "127.0.0.1", port };
  const name = `bench-${concurrency}-${Date.now()}`;
  const queue = new Queue(name, { connection });
  const opts = { attempts: 5, backoff: { type: "exponential", delay: 5000 } };
  for (let start = 0; start < count; start += 1000) {
    const chunk = [];
    for (let n = start; n < Math.min(count, start + 1000); n++) {
      chunk.push({ name: "noop", data: { n }, opts });
    }
    await queue.addBulk(chunk);
  }
  let done = 0;
  let started;
  const finished = new Promise((resolve) => {
    const worker = new Worker(name, async () => {}, { connection, concurrency, autorun: false });
    worker.on("completed", () => {
      done += 1;
      if (done === count) resolve(worker);
    });
    started = process.hrtime.bigint();
    worker.run();
  });
  const worker = await finished;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  console.log(`${done} ${seconds}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
