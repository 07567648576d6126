package tasklet.kernel;

/**
 * A snapshot of a scheduler's counters ({@link Scheduler#stats()}): what
 * {@code tasklet.observe/scheduler-stats}, {@code runtime-info} and the JMX
 * {@link SchedulerMXBean} show. Counts are totals since the scheduler
 * started; lengths are the moment's, read racily.
 *
 * @param parallelism       configured number of workers
 * @param workers           workers now, compensating ones included
 * @param runQueueLengths   tasklets waiting to run, per worker (a copy)
 * @param globalQueueLength tasklets spawned from outside not yet taken by a worker
 * @param idleWorkers       parked workers
 * @param steals            new tasklets taken from another worker
 * @param wakeUps           parked workers unparked by a submitter
 * @param compensations     compensating workers started for blocked ones
 * @param retirements       surplus workers retired
 * @param deterministic     the deterministic scheduler's own counters, or null
 */
public record SchedulerStats(int parallelism, int workers, int[] runQueueLengths,
                             int globalQueueLength, int idleWorkers, long steals, long wakeUps,
                             long compensations, long retirements, Deterministic deterministic) {

  /**
   * What only {@link DeterministicScheduler} counts.
   *
   * @param steps          tasklet steps run
   * @param choicesUsed    scripted choices consumed so far
   * @param foreignSubmits submissions from a thread other than the driver
   */
  public record Deterministic(long steps, long choicesUsed, long foreignSubmits) {}
}
