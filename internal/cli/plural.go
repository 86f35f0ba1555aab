package cli

import "fmt"

// Plural counts a noun: "1 record", "2 records", "0 records".
func Plural[N ~int | ~int32 | ~int64](n N, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
