package tasklet.kernel;

/**
 * A scheduler thread ("tasklet-worker-N") with its own {@link RunQueue}. Runs
 * continuation tasklets one slice at a time; see {@link WorkerPool}.
 */
final class Worker extends Thread {
  final WorkerPool pool;
  final RunQueue queue = new RunQueue();
  Tasklet current;              // the tasklet running now; read by Node.current() on this thread
  volatile int schedtick;       // bumped for every slice; the watchdog samples it
  volatile boolean idle;        // parked waiting for work; cleared (cas) by the waker
  volatile boolean spinning;    // looking for work to steal
  volatile boolean compensated; // the watchdog added a worker while this one was stuck
  int nextStreak;               // consecutive runs from the next slot (owner only)
  int seenTick, stuckChecks;    // watchdog only

  Worker(WorkerPool pool, int id) {
    super("tasklet-worker-" + id);
    this.pool = pool;
    setDaemon(true);
  }

  @Override public void run() { pool.loop(this); }
}
