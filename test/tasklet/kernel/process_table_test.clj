(ns tasklet.kernel.process-table-test
  "The node's process table (tasklet.kernel.ProcessTable) through the public
  API: after random spawns and ends, the live tasklets are exactly those
  listed, counted and found again from a pid that carries no cached tasklet
  (as pids decoded from the wire or read back from text do)."
  (:require [clojure.set :as set]
            [clojure.test :refer [deftest is]]
            [clojure.test.check.clojure-test :refer [defspec]]
            [clojure.test.check.generators :as gen]
            [clojure.test.check.properties :as prop]
            [tasklet.core :as t :refer [! receive]])
  (:import [tasklet.kernel Pid]))

(set! *warn-on-reflection* true)

(defn- uncached
  "An equal pid that has never been resolved, so alive? must search the table."
  ^Pid [^Pid p]
  (Pid. (.-node p) (.-serial p) (.-incarnation p)))

(defn- waiter [] (receive :end nil))

(defn- end-all!
  "Send :end to pids and wait until each has ended (by monitor, 10 s each)."
  [pids]
  (let [refs (mapv (fn [p] (let [r (t/monitor p)] (! p :end) r)) pids)]
    (doseq [r refs]
      (receive [:DOWN r :process _ _] nil
               (after 10000 (throw (ex-info "a tasklet did not end" {:ref r})))))))

(defn- table-agrees?
  "Spawn n waiters, end those at the chosen indices, then compare."
  [n ends]
  (let [pids (vec (repeatedly n #(t/spawn waiter)))
        dead (set (map pids (filter #(< % n) ends)))
        live (set/difference (set pids) dead)]
    (end-all! dead)
    (let [listed (set/intersection (set (t/processes)) (set pids))
          found (set (filter #(t/alive? (uncached %)) pids))]
      (end-all! live)
      (and (= live listed)
           (= live found)
           (not-any? #(t/alive? (uncached %)) pids)))))

(defspec random-spawns-and-ends 30
  (prop/for-all [n (gen/choose 1 3000)
                 ends (gen/vector (gen/choose 0 2999) 0 3000)]
    (table-agrees? n ends)))

;; A burst that fills and empties the table: every tasklet is found while
;; alive and none once all ended, through growth and shrinking of the table.
(deftest burst-grows-and-shrinks
  (let [before (t/runtime-info)
        pids (vec (repeatedly 20000 #(t/spawn waiter)))]
    (is (every? #(t/alive? (uncached %)) pids))
    (is (<= 20000 (:processes (t/runtime-info))))
    (end-all! pids)
    (is (not-any? #(t/alive? (uncached %)) pids))
    (is (<= (:processes (t/runtime-info)) (+ (:processes before) 50))
        "the count falls back (give or take other tests' tasklets)")))
