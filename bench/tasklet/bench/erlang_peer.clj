(ns tasklet.bench.erlang-peer
  "Erlang/OTP as a column of the table, measured on this machine in the same
  run: bench/erlang/run.sh runs W1-W6 written in Erlang with the
  same counts (its own warm-up and median of 3; W5/W6 against a second node
  started with OTP's `peer`). It runs once, the first time a figure is asked
  for at a scale; every run of this peer at that scale returns those figures. Without erl/erlc the
  column says how to get them."
  (:refer-clojure :exclude [num])
  (:require [clojure.edn :as edn]
            [clojure.java.shell :as sh]
            [clojure.string :as str]))

(set! *warn-on-reflection* true)

(def ^:private figures
  "The Erlang run's figures at a scale (run once per scale), or {:na why}.
  The scale is read back from a workload's count (see tasklet.bench.util/full-params)."
  (memoize
    (fn [scale]
    (let [{:keys [exit out err]} (sh/sh "bash" "bench/erlang/run.sh" (str (double scale)))
          line (last (str/split-lines (str out)))]
      (if (and (zero? exit) line (str/starts-with? line "{"))
        (edn/read-string line)
        (let [why (str/trim (str (if (str/blank? err) out err)))]
          {:na (str "n/a (" (subs why 0 (min 120 (count why))) ")")}))))))

(defn- with
  "(f figures) at scale, or the run's {:na why}."
  [scale f]
  (let [m (figures scale)]
    (if (:na m) {:na (:na m)} (f m))))

(defn- num [m k] (double (get m k)))

(defn w1 "W1 from the Erlang run." [{:keys [n]}]
  (with (/ n 1e6) (fn [m] {:create-ms (num m :W1-create-ms) :bytes-per (num m :W1-bytes-per)
                           :end-ms (num m :W1-end-ms)})))

(defn w2 "W2 from the Erlang run." [{:keys [round-trips]}]
  (with (/ round-trips 1e6) (fn [m] (let [x (num m :W2-rt-per-s)] {:rt-per-s x :ns-per-hop (/ 1e9 x 2)}))))

(defn w3 "W3 from the Erlang run." [{:keys [ring]}]
  (with (/ ring 1e4) (fn [m] {:create-ms (num m :W3-create-ms) :hops-per-s (num m :W3-hops-per-s)})))

(defn w4 "W4 from the Erlang run." [{:keys [per-sender]}]
  (with (/ per-sender 1e6) (fn [m] {:msgs-per-s (num m :W4-msgs-per-s)})))

(defn w5 "W5 from the Erlang run." [{:keys [round-trips]}]
  (with (/ round-trips 1e5) (fn [m] (let [x (num m :W5-rt-per-s)] {:rt-per-s x :us-per-rt (/ 1e6 x)}))))

(defn w6 "W6 from the Erlang run." [{:keys [messages]}]
  (with (/ messages 1e6) (fn [m] {:msgs-per-s (num m :W6-msgs-per-s)})))
