/** An idle TypeScript module (bench/idle-tsx.mjs loads it through tsx): a timer, nothing else. */
const timer: ReturnType<typeof setInterval> = setInterval(() => {}, 1000);
process.on('SIGTERM', () => {
  clearInterval(timer);
  process.exit(0);
});
