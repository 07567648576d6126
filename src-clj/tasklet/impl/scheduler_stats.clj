(ns tasklet.impl.scheduler-stats
  "The kernel's typed scheduler statistics (tasklet.kernel.SchedulerStats) as
  the Clojure map that tasklet.core/runtime-info and
  tasklet.observe/scheduler-stats show. The keys are the ones those functions
  always showed: the continuation scheduler's nine, or for the deterministic
  scheduler (tasklet.test) its own eight."
  (:import [tasklet.kernel SchedulerStats SchedulerStats$Deterministic]))

(set! *warn-on-reflection* true)

(defn ->map
  "stats as a map with keyword keys (:run-queue-lengths a vector), or nil for nil."
  [^SchedulerStats stats]
  (when stats
    (let [common {:parallelism (.parallelism stats)
                  :workers (.workers stats)
                  :run-queue-lengths (vec (.runQueueLengths stats))
                  :steals (.steals stats)
                  :compensations (.compensations stats)}]
      (if-let [^SchedulerStats$Deterministic d (.deterministic stats)]
        (assoc common
               :steps (.steps d)
               :choices-used (.choicesUsed d)
               :foreign-submits (.foreignSubmits d))
        (assoc common
               :global-queue-length (.globalQueueLength stats)
               :idle-workers (.idleWorkers stats)
               :wake-ups (.wakeUps stats)
               :retirements (.retirements stats))))))
