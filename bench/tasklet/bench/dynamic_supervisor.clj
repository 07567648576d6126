(ns tasklet.bench.dynamic-supervisor
  "How which-children and count-children of a :simple-one-for-one supervisor
  scale with its number of children (issue 14: fast with 100,000). Not part
  of the side-by-side suite (no peer has the same thing to compare); run by
  hand on a quiet machine:

    lein run -m tasklet.bench.dynamic-supervisor 100000

  prints one map per child count, e.g. {:children 100000 :start-child-us ..
  :count-children-us .. :which-children-ms .. :shutdown-ms ..}: the mean
  microseconds of a start-child and of a count-children call, the
  milliseconds of one which-children and of stopping them all."
  (:require [tasklet.bench.util :as u]
            [tasklet.core :as t :refer [receive]]
            [tasklet.supervisor :as sup]))

(set! *warn-on-reflection* true)

(defn idle
  "A child that waits for ever (until it is stopped)."
  []
  (receive :never nil))

(defn measure
  "Start a :simple-one-for-one supervisor, start n children, then time
  count-children (calls times), one which-children and the shutdown of all n.
  Returns a map of the figures (see the ns doc). Call it from a plain thread:
  it traps exits, since it links to the supervisor it stops."
  ([n] (measure n 1000))
  ([n calls]
   (t/trap-exit! true)
   (let [s (sup/start-link {:strategy :simple-one-for-one
                       :children [{:id :idle :start [#'idle] :shutdown :brutal-kill}]})
         t0 (u/now)
         _ (dotimes [_ n] (sup/start-child s []))
         t1 (u/now)
         _ (dotimes [_ calls] (sup/count-children s))
         t2 (u/now)
         listed (count (sup/which-children s))
         t3 (u/now)
         m (t/monitor s)]
     (t/exit s :shutdown)
     (receive [:DOWN m :process _ _] nil)
     (receive [:EXIT s _] nil)
     (let [t4 (u/now)]
       {:children n
        :listed listed
        :start-child-us (/ (u/ms (- t1 t0)) 1e-3 (max 1 n))
        :count-children-us (/ (u/ms (- t2 t1)) 1e-3 calls)
        :which-children-ms (u/ms (- t3 t2))
        :shutdown-ms (u/ms (- t4 t3))}))))

(defn -main
  "Measure at each child count given (default 1,000 10,000 100,000)."
  [& counts]
  (doseq [n (if (seq counts) (map parse-long counts) [1000 10000 100000])]
    (prn (measure n)))
  (shutdown-agents))
