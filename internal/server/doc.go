// Package server is the Kafka wire-protocol front end: it accepts TCP
// connections, reads size-prefixed request frames, decodes request headers
// (versions 0 to 2) and hands each request to a Handler, then writes the
// responses back in request order.
//
// The model, per connection:
//
//	reader goroutine: read frame → parse header → Handler.Serve → queue response
//	writer goroutine: complete each queued response (Await, if deferred),
//	                  frame it (size, header v0/v1, parts) → socket
//
// When the writer is idle (nothing queued, nothing being written) and the
// response is final, the reader writes it itself: a lone request, such as a
// producer or consumer waiting on every record, then costs no goroutine
// hand-off, which on an idle machine takes longer than serving it.
//
// Requests on one connection are served one at a time, in order, as Kafka
// serves them: side effects of pipelined requests (two produces to one
// partition) happen in the order the client sent them, while the writer sends
// response N as the reader already serves request N+1.
//
// A handler whose answer must wait (a produce waiting for its records to be
// fsynced) returns a deferred response: one with Await set. Serve returns at
// once and the reader goes on to the next request (so the next produce is
// appended while the previous one waits for its fsync round); the writer
// calls Await in request order and writes the response once it returns, so
// responses still go out exactly in request order. At most
// Config.MaxQueuedResponses responses (16 by default) wait per connection;
// beyond that the reader stops reading, which pushes back on the client.
//
// A frame larger than the configured maximum (socket.request.max.bytes), a
// negative size, a header that does not parse, or an API key the protocol
// does not know closes the connection before any body is allocated or
// served, as Kafka does. What to do about unsupported versions is the
// Handler's choice (ApiVersions answers them; other APIs return an error and
// the connection closes).
//
// Request frames are read into buffers taken from a pool by power-of-two
// size class (16 KiB to 64 MiB). A handler that is done with a request, and
// keeps nothing that aliases its bytes, calls Request.Recycle to hand the
// buffer back for a later request; the broker does so for Produce, whose
// frames carry nearly all the bytes a broker receives, so that taking
// hundreds of megabytes a second does not mean allocating (and the runtime
// zeroing) as much. A request that is not recycled is simply garbage
// collected. Race-enabled builds overwrite every recycled buffer, so a
// handler that breaks the promise fails its tests at once.
//
// A Response is a list of parts: byte slices and file ranges. File ranges
// (the record batches of Fetch) are sent with sendfile(2) at an explicit
// offset when the connection is a plain *net.TCPConn and the file is an
// *os.File, and copied otherwise.
//
// Shutdown stops accepting, cancels the context handed to handlers (so long
// polls return early), lets every request already read finish, deferred
// responses included, and its response be written, then closes the
// connections. If the shutdown's deadline passes first, the context handed
// to Await ends and the connections close at once.
package server
