(ns ^:no-doc tasklet.impl.error
  "What the behaviours built on tasklet.core (server, statem, task) share
  about errors: every error is an ex-info whose data has :tasklet/error kind
  (doc/reference.md §6), and servers and state machines check their start
  options alike."
  (:import [clojure.lang ExceptionInfo]))

(set! *warn-on-reflection* true)

(defn error
  "ex-info with message and data plus {:tasklet/error kind}."
  ^ExceptionInfo [kind message data]
  (ex-info message (assoc data :tasklet/error kind)))

(defn check-start-opts
  "Throw {:tasklet/error :badarg} unless opts is nil or a map whose :name, if
  any, is a keyword; what names the behaviour (\"server\") and example its
  name in the message (\":my-server\")."
  [what example opts]
  (when-not (or (nil? opts) (map? opts))
    (throw (error :badarg (str what " options are a map like {:name " example "}, got " (pr-str opts))
                  {:opts opts})))
  (when-not (or (nil? (:name opts)) (keyword? (:name opts)))
    (throw (error :badarg (str what " option :name must be a keyword, got " (pr-str (:name opts)))
                  {:key :name :value (:name opts)}))))
