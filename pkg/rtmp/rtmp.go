// Package rtmp is Ripple's own RTMP 1.0 stack (Adobe RTMP specification,
// December 2012): the handshake in its plain and Flash-digest dialects, the
// chunk stream reader and writer, protocol control and user control messages,
// and the server and client sessions built on them.
//
// The primitives (handshake, ChunkReader, ChunkWriter, Message) do no I/O
// scheduling of their own: the caller owns the connection, sets deadlines and
// runs one reader and one writer goroutine per connection.
package rtmp
