// Preloaded into a ptg under test: on SIGUSR2, a promise rejects that no one awaits, with the
// error a full disk gives a write. It stands in for a failed write deep inside ptg, which a test
// cannot cause on demand while agents run.
process.on('SIGUSR2', () => {
  Promise.reject(Object.assign(new Error("ENOSPC: no space left on device, open '/ws/.ptg/runs/v1/x/manifest.json'"), {
    errno: -28,
    code: 'ENOSPC',
    syscall: 'open',
    path: '/ws/.ptg/runs/v1/x/manifest.json',
  }));
});
