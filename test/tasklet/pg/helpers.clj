(ns tasklet.pg.helpers
  "Functions the pg node tests spawn on child nodes (by var, so the child
  resolves them). Not a test namespace: loading it defines no tests."
  (:require [tasklet.core :as t :refer [! receive self]]
            [tasklet.pg :as pg]))

(set! *warn-on-reflection* true)

(defn idle
  "Waits until told :stop."
  []
  (receive :stop nil))

(defn join-members
  "Start scope on this node unless it runs, spawn n idle members, join them
  to group, and send [:joined node pids] to `to`."
  [scope group n to]
  (when-not (t/whereis scope)
    (pg/start scope))
  (let [ps (vec (repeatedly n #(t/spawn idle)))]
    (pg/join scope group ps)
    (! to [:joined (keyword (.-node ^tasklet.kernel.Pid (self))) ps])))

(defn await-members
  "Wait (up to ms) until this node's view of group in scope has exactly the
  members `expected` (a set), then send [:members (set members)] to `to`;
  on timeout send what it has."
  [scope group expected ms to]
  (let [[ref _] (pg/monitor scope group)
        deadline (+ (t/monotonic-ms) (long ms))]
    (loop []
      (let [now (set (pg/members scope group))]
        (if (or (= now expected) (>= (t/monotonic-ms) deadline))
          (do (pg/demonitor ref) (! to [:members now]))
          (do (receive [ref _ _ _] nil (after (max 1 (- deadline (t/monotonic-ms))) nil))
              (recur)))))))
