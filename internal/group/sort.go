package group

import "sort"

func sortMembers(ms []*member) {
	sort.Slice(ms, func(i, j int) bool { return ms[i].id < ms[j].id })
}
