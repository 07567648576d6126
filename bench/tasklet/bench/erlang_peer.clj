(ns tasklet.bench.erlang-peer
  "Erlang/OTP as a column of the table, measured on this machine in the same
  run: bench/erlang/run.sh runs W1-W6 and the three Savina workloads written
  in Erlang with the same counts (a warm-up run and the suite's number of
  runs each; W5/W6 against a second node started with OTP's `peer`). It runs
  once, the first time a figure is asked for with given scale, runs and
  schedulers; every workload of this peer then takes its runs from that one
  erl run. Without erl/erlc the column says how to get them."
  (:require [clojure.edn :as edn]
            [clojure.java.shell :as sh]
            [clojure.string :as str]))

(set! *warn-on-reflection* true)

(def ^:private erl-run
  "The Erlang run's output map {workload [figures...]} for [scale runs
  schedulers] (run once each), or {:na why}."
  (memoize
    (fn [scale runs schedulers]
      (let [{:keys [exit out err]} (apply sh/sh "bash" "bench/erlang/run.sh" (str (double scale)) (str runs)
                                          (when schedulers [(str schedulers)]))
            line (last (str/split-lines (str out)))]
        (if (and (zero? exit) line (str/starts-with? line "{"))
          (edn/read-string line)
          (let [why (str/trim (str (if (str/blank? err) out err)))]
            {:na (str "n/a (" (subs why (max 0 (- (count why) 160))) ")")}))))))

(defn otp-release
  "The OTP release of the last Erlang run at these options, or nil."
  [{:bench/keys [scale runs workers]}]
  (:otp (erl-run scale runs workers)))

(defn runs
  "Workload w's runs from the Erlang run for these parameters: {:runs
  [figures...]}, or {:na why}."
  [w {:bench/keys [scale runs workers]}]
  (let [m (erl-run (or scale 1.0) (or runs 5) workers)]
    (cond
      (:na m) {:na (:na m)}
      (seq (get m w)) {:runs (vec (get m w)) :otp (:otp m) :schedulers (:schedulers m)}
      :else {:na (str "n/a (the Erlang run has no " (name w) ")")})))
