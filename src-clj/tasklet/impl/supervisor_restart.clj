(ns ^:no-doc tasklet.impl.supervisor-restart
  "Restarts of a supervisor's children with ids (OTP's restart strategies and
  restart intensity): which child is restarted after which exit, what the
  strategy stops and starts again, and the count of restarts in the last
  :period-ms that stops the supervisor past :intensity. A restart that fails
  is retried by a [:tasklet.supervisor/restart id] message to self. Internal
  to tasklet.supervisor."
  (:require [tasklet.core :as t :refer [! self]]
            [tasklet.impl.supervisor-children :as children :refer [index-of log remove-at]]
            [tasklet.server :as server]))

(set! *warn-on-reflection* true)

(defn restart?
  "Whether child c, ended with reason, is restarted (temporary ones are
  handled before)."
  [c reason]
  (or (= :permanent (:restart c))
      (not (or (= :normal reason) (= :shutdown reason)
               (and (vector? reason) (= :shutdown (nth reason 0 nil)))))))

(defn- restart-by-strategy
  "Restart child id (not running) by the strategy. A child that fails to
  start is retried through a [:tasklet.supervisor/restart id] message to self, which counts
  as one more restart."
  [state id]
  (let [strategy (:strategy state)
        cs (:children state)
        i (index-of cs :id id)
        cs (case strategy
             :one-for-one cs
             :one-for-all (children/shutdown-from cs 0)
             :rest-for-one (children/shutdown-from cs i))
        i (index-of cs :id id)
        [cs failed e] (children/start-range cs (if (= :one-for-all strategy) 0 i)
                                   (if (= :one-for-one strategy) (inc i) (count cs)))]
    (when failed
      (log :warning
           (str "supervisor " (self) ": restart of child " (pr-str (:id (cs failed)))
                " failed, retrying") e)
      (! (self) [:tasklet.supervisor/restart (:id (cs failed))]))
    (assoc state :children cs)))

(defn restart
  "Count one restart of child id (the id names it in the report); past the
  intensity, stop (children first, by :terminate) with :shutdown, else
  restart it with (again state)."
  [state id again]
  ;; the node's clock, not System/nanoTime: under virtual time (tasklet.test)
  ;; the window must pass as the children's `after` timeouts do
  (let [now (t/monotonic-ms)
        period (long (:period-ms state))
        rs (conj (filterv #(< (- now (long %)) period) (:restarts state)) now)
        state (assoc state :restarts rs)]
    (if (> (count rs) (:intensity state))
      (do (log :error
               (str "supervisor " (self) ": more than " (:intensity state) " restarts in "
                    period " ms (child " (pr-str id) "); shutting down") nil)
          (server/stop :shutdown state))
      (again state))))

(defn child-exited [state pid reason]
  (let [cs (:children state)]
    (if-let [i (index-of cs :pid pid)]
      (let [c (cs i)]
        (cond
          (= :temporary (:restart c)) (assoc state :children (remove-at cs i))
          (restart? c reason) (restart (assoc-in state [:children i :pid] nil) (:id c)
                                       #(restart-by-strategy % (:id c)))
          :else (assoc-in state [:children i :pid] nil)))
      state)))

(defn retry [state id]
  (let [c (first (filter #(= id (:id %)) (:children state)))]
    (if (and c (nil? (:pid c)))
      (restart state id #(restart-by-strategy % id))
      state)))
