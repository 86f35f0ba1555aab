package group

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// This file is the admin side: DescribeGroups, ListGroups, DeleteGroups,
// and a read-only view of groups for tools.

// DescribeGroups serves a DescribeGroups request. A group that does not
// exist is reported Dead (from v6 with GROUP_ID_NOT_FOUND, as Kafka 4 does);
// a KIP-848 group is described by ConsumerGroupDescribe instead.
func (c *Coordinator) DescribeGroups(req *kmsg.DescribeGroupsRequest) *kmsg.DescribeGroupsResponse {
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, id := range req.Groups {
		dg := kmsg.NewDescribeGroupsResponseGroup()
		dg.Group = id
		dg.AuthorizedOperations = -2147483648
		if code := c.preCheck(id); code != 0 {
			dg.ErrorCode = code
			resp.Groups = append(resp.Groups, dg)
			continue
		}
		g, code := c.lockLiveGroup(id, false)
		if code != 0 {
			dg.ErrorCode = code
			resp.Groups = append(resp.Groups, dg)
			continue
		}
		if g == nil {
			dg.State = StateDead.String()
			if req.Version >= 6 {
				dg.ErrorCode = kerr.GroupIDNotFound.Code
				dg.ErrorMessage = strPtr("group " + id + " not found")
			}
			resp.Groups = append(resp.Groups, dg)
			continue
		}
		if g.typ == TypeConsumer {
			dg.State = StateDead.String()
			if req.Version >= 6 {
				dg.ErrorCode = kerr.GroupIDNotFound.Code
				dg.ErrorMessage = strPtr("group " + id + " is not a classic group")
			}
			g.mu.Unlock()
			resp.Groups = append(resp.Groups, dg)
			continue
		}
		dg.State = g.state.String()
		dg.ProtocolType = g.protocolType
		if g.state == StateStable {
			dg.Protocol = g.protocol
		}
		for _, m := range g.sortedMembersLocked() {
			dm := kmsg.NewDescribeGroupsResponseGroupMember()
			dm.MemberID = m.id
			dm.InstanceID = m.instanceID
			dm.ClientID = m.clientID
			dm.ClientHost = m.clientHost
			if g.state == StateStable {
				dm.ProtocolMetadata = m.metadataFor(g.protocol)
				dm.MemberAssignment = m.assignment
			}
			dg.Members = append(dg.Members, dm)
		}
		g.mu.Unlock()
		resp.Groups = append(resp.Groups, dg)
	}
	return resp
}

// ListGroups serves a ListGroups request, filtered by state (v4+) and
// type (v5+), both case-insensitively.
func (c *Coordinator) ListGroups(req *kmsg.ListGroupsRequest) *kmsg.ListGroupsResponse {
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	if code := c.listCheck(); code != 0 {
		resp.ErrorCode = code
		return resp
	}
	for _, g := range c.snapshotGroups() {
		g.mu.Lock()
		state, typ, ptype := g.state, g.typ, g.protocolType
		if typ == TypeConsumer {
			state = g.cg.stateLocked()
			ptype = "consumer"
		}
		g.mu.Unlock()
		if state == StateDead {
			continue
		}
		if len(req.StatesFilter) > 0 && !equalFoldAny(req.StatesFilter, state.String()) {
			continue
		}
		if len(req.TypesFilter) > 0 && !equalFoldAny(req.TypesFilter, typ.String()) {
			continue
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group = g.id
		lg.ProtocolType = ptype
		lg.GroupState = state.String()
		lg.GroupType = typ.String()
		resp.Groups = append(resp.Groups, lg)
	}
	sort.Slice(resp.Groups, func(i, j int) bool { return resp.Groups[i].Group < resp.Groups[j].Group })
	return resp
}

// DeleteGroups serves a DeleteGroups request: an empty group's offsets
// and metadata are tombstoned and the group removed.
func (c *Coordinator) DeleteGroups(req *kmsg.DeleteGroupsRequest) *kmsg.DeleteGroupsResponse {
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	for _, id := range req.Groups {
		dg := kmsg.NewDeleteGroupsResponseGroup()
		dg.Group = id
		dg.ErrorCode = c.deleteGroup(id)
		resp.Groups = append(resp.Groups, dg)
	}
	return resp
}

func (c *Coordinator) deleteGroup(id string) int16 {
	if code := c.preCheck(id); code != 0 {
		return code
	}
	if id == "" {
		return kerr.InvalidGroupID.Code
	}
	g, code := c.lockLiveGroup(id, false)
	if code != 0 {
		return code
	}
	if g == nil {
		return kerr.GroupIDNotFound.Code
	}
	if !g.isEmptyLocked() || (g.typ == TypeClassic && g.state != StateEmpty) {
		g.mu.Unlock()
		return kerr.NonEmptyGroup.Code
	}
	var recs []Record
	for t, ps := range g.offsets {
		for p := range ps {
			recs = append(recs, Record{Key: offsetCommitKey(id, t, p)})
		}
	}
	recs = append(recs, Record{Key: groupMetadataKey(id)})
	if err := g.appendLocked(recs); err != nil {
		g.mu.Unlock()
		return storageErrorCode(err)
	}
	g.offsets = map[string]map[int32]offsetEntry{}
	g.markDeadLocked()
	g.mu.Unlock()
	c.removeGroup(g)
	return 0
}
