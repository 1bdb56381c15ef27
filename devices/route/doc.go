// Package route delivers messages from subscribed topics to the tasks that
// declared them.
//
// A topic trie finds the matching filters in time proportional to the topic
// depth, not to the number of filters. Every subscriber (one task replica)
// has its own bounded queue and goroutine, so a slow task never blocks the
// others: when its queue is full the message is dropped for it and counted.
// Replicas that declare the same filter as shared (kernel.Subscription.Shared)
// within one group get each message once between them, chosen by the
// subscription's policy: round-robin, least-loaded (shortest queue) or a hash
// of the topic or payload (affinity).
package route
