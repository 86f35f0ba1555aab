package metadata

import (
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
)

// MaxTopicNameLength is Kafka's limit on topic names (Topic.MAX_NAME_LENGTH).
const MaxTopicNameLength = 249

// ValidateTopicName applies Kafka's topic name rules: 1 to 249 characters
// of [a-zA-Z0-9._-], and not "." or "..". The error is an *Error with
// INVALID_TOPIC_EXCEPTION and Kafka's wording.
func ValidateTopicName(name string) error {
	switch {
	case name == "":
		return newError(kerr.InvalidTopicException, "Topic name is illegal, it can't be empty")
	case name == "." || name == "..":
		return newError(kerr.InvalidTopicException, "Topic name cannot be \".\" or \"..\"")
	case len(name) > MaxTopicNameLength:
		return newError(kerr.InvalidTopicException, "Topic name is illegal, it can't be longer than %d characters, topic name: %s", MaxTopicNameLength, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return newError(kerr.InvalidTopicException, "Topic name %q is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'", name)
		}
	}
	return nil
}

// TopicNamesCollide reports whether two topic names collide in Kafka's
// sense: they differ only by '.' versus '_' (both map to the same metric
// name).
func TopicNamesCollide(a, b string) bool {
	return a != b && strings.ReplaceAll(a, ".", "_") == strings.ReplaceAll(b, ".", "_")
}

// IsInternalTopic reports whether name is one of Kafka's internal topics.
func IsInternalTopic(name string) bool {
	return name == "__consumer_offsets" || name == "__transaction_state" || name == "__share_group_state"
}
