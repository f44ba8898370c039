/*
 * bundle.h - the Analysis Bundle envelope.
 *
 * A bundle is a JSON object (schema: `lanser schema bundle`,
 * docs/bundle.md):
 *   schema       "lanser.bundle/1"
 *   bundleId     "sha256:" + SHA-256 of the RFC 8785 canonical JSON of the
 *                bundle without "bundleId" and without "meta.volatile"
 *   request      what was asked (command, target, options, indexIo)
 *   resolution   where the target resolved (path, range)
 *   facts        the answer, sorted by path then range
 *   complete     false when an answer was returned before the server was ready
 *   inputs       digests of the documents the answer depends on
 *   environment  servers (name, version, encoding), config digest, platform
 *   capabilities the server capabilities the request relied on
 *   meta         exitCode, status; meta.volatile: timings, pids, message
 *
 * A bundle is a pure function of its inputs: nothing machine- or
 * time-dependent may appear outside meta.volatile.
 */
#ifndef LANSER_BUNDLE_H
#define LANSER_BUNDLE_H

#include <jansson.h>

#define LN_BUNDLE_SCHEMA "lanser.bundle/1"

/* A new bundle skeleton for `command` (new reference). */
json_t *ln_bundle_new(const char *command);

/* Sorts facts (by path, then range, then the canonical JSON of the fact,
 * so the order is total), sets meta.exitCode/status from `err`, puts
 * `message` (may be NULL) into meta.volatile, and computes bundleId.
 * Returns 0 or the canonicalizer's error. */
int ln_bundle_finish(json_t *bundle, int err, const char *message);

/* Recomputes the id of a finished bundle into out ("sha256:..."). */
int ln_bundle_compute_id(char out[72], const json_t *bundle);

/* [sL, sC, eL, eC] */
json_t *ln_range_new(long sl, long sc, long el, long ec);

/* The bundle's JSON Schema (static string). */
const char *ln_bundle_schema(void);

#endif
