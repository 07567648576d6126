(ns ^:no-doc tasklet.impl.supervisor-children
  "A supervisor's children: start one (waiting for its init when it does the
  start handshake), start a range in order, stop one by its :shutdown rule,
  stop a range last first; and the supervisor's reports. Internal to
  tasklet.supervisor: these run in the supervisor's own tasklet, which traps
  exits and is linked to every child."
  (:require [tasklet.core :as t :refer [self receive]]
            [tasklet.impl.crash :as crash]
            [tasklet.impl.process :as process]
            [tasklet.impl.start :as start]))

(set! *warn-on-reflection* true)

(defn log
  "A supervisor report (OTP's error logger), level :warning or :error, to
  wherever tasklet.core/set-crash-handler! sends reports."
  [level ^String message ^Throwable e]
  (crash/report! {:kind :supervisor :level level :pid (self) :reason e
                  :message (if e (str message ": " (crash/describe e)) message)}))

(defn- failed-to-start [c ^Throwable e]
  (ex-info (str "supervisor " (self) ": child " (pr-str (:id c)) " failed to start: "
                (or (ex-message e) (.getName (class e))))
           {:tasklet/error :failed-to-start-child :id (:id c) :reason e}
           e))

(defn try-start
  "Start child c, linked. Returns c with its :pid, or the ex-info made by
  `failed-to-start`."
  [c]
  (let [[f & args] (:start c)]
    (try
      (assoc c :pid (if (start/acks-start? f)
                      (start/start-sync f args true)
                      (t/spawn-fn f args {:link true})))
      (catch Throwable e
        (if (process/exit? e) (throw e) (failed-to-start c e))))))

(defn- await-down [mref ms]
  (receive
    [:DOWN mref :process _ _] true
    (after ms false)))

(defn shutdown-child
  "Stop child c if it runs: exit signal :shutdown, then :kill after its
  :shutdown ms (or :kill at once for :brutal-kill). Waits until it has ended
  and takes its [:EXIT ...] (it is linked). Returns c, not running."
  [{:keys [pid shutdown] :as c}]
  (when pid
    (let [mref (t/monitor pid)]
      (if (= :brutal-kill shutdown)
        (t/exit pid :kill)
        (t/exit pid :shutdown))
      (when-not (await-down mref (if (number? shutdown) shutdown :infinity))
        (t/exit pid :kill)
        (await-down mref :infinity))
      (receive [:EXIT pid _] nil (after 0 nil))))
  (assoc c :pid nil))

(defn shutdown-from
  "Stop children[i..], last first; temporary ones are forgotten."
  [children i]
  (let [stopped (mapv shutdown-child (rseq (subvec children i)))]
    (into (subvec children 0 i)
          (remove #(= :temporary (:restart %)))
          (rseq stopped))))

(defn start-range
  "Start children[i..j) in order. Returns [children nil] or, when one fails,
  [children failed-index exception] with that one and those after it not
  started."
  [children i j]
  (loop [cs children k i]
    (if (>= k j)
      [cs nil nil]
      (let [r (try-start (cs k))]
        (if (map? r)
          (recur (assoc cs k r) (inc k))
          [cs k r])))))

(defn index-of [children k v]
  (first (keep-indexed (fn [i c] (when (= v (get c k)) i)) children)))

(defn remove-at [v i]
  (into (subvec v 0 i) (subvec v (inc i))))
