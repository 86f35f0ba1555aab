// Package format renders what the samsa command-line tools print: consumed
// records as text, as one JSON object per line or through a kcat-style
// template, the results of administrative commands as tables or as one JSON
// or YAML document, and aligned tables.
//
// Record output is meant to be piped: text mode prints the value (optionally
// preceded by the key) followed by a newline; JSON mode prints one object per
// record with topic, partition, offset, timestamp, key, value and headers.
// Bytes that are not valid UTF-8 are base64-encoded in JSON and flagged with a
// "key_encoding" or "value_encoding" field, so no record is ever mangled.
//
// A [Template] (%k=%v\n) renders records for consume and, with a [Scanner],
// splits input into records for produce.
package format
