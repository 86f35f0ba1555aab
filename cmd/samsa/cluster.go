package main

// samsa cluster info: the cluster id, the controller and the brokers, from
// a Metadata request, as rpk cluster info and kcat -L show them.

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/samsa-streaming/samsa/internal/cli"
	"github.com/samsa-streaming/samsa/internal/cli/format"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func newClusterCmd(flags *clientFlags) *cobra.Command {
	cmd := groupCommand(&cobra.Command{
		Use:   "cluster",
		Short: "Show the cluster's id, controller and brokers; elect preferred leaders",
	})
	of := addOutputFlag(cmd)
	cmd.AddCommand(newClusterInfoCmd(flags, of), newClusterStatusCmd(flags, of), newClusterElectCmd(flags, of), newClusterNewIDCmd())
	return cmd
}

// newClusterNewIDCmd prints a fresh cluster id, as kafka-storage.sh
// random-uuid does: every node of a new cluster is started with it
// (samsa.cluster.id).
func newClusterNewIDCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "new-id",
		Short:   "Print a new random cluster id for samsa.cluster.id",
		Example: "  samsa cluster new-id",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), metadata.NewClusterID())
			return err
		},
	}
}

// clusterInfo is the output of cluster info.
type clusterInfo struct {
	// ClusterID is null when the cluster reports none.
	ClusterID *string `json:"cluster_id" yaml:"cluster_id"`
	// Controller is the node id of the controller, null when unknown.
	Controller *int32       `json:"controller" yaml:"controller"`
	Brokers    []brokerInfo `json:"brokers" yaml:"brokers"`
}

type brokerInfo struct {
	ID   int32  `json:"id" yaml:"id"`
	Host string `json:"host" yaml:"host"`
	Port int32  `json:"port" yaml:"port"`
	// Rack is null for a broker without broker.rack.
	Rack *string `json:"rack" yaml:"rack"`
}

func newClusterInfoCmd(flags *clientFlags, of *outputFlag) *cobra.Command {
	return &cobra.Command{
		Use:     "info",
		Aliases: []string{"describe"},
		Short:   "Show the cluster's id, controller and brokers",
		Example: "  samsa cluster info\n  samsa cluster info --format json",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClient(cmd.Context(), flags, func(ctx context.Context, cl *kgo.Client) error {
				m, err := cli.Admin(cl).BrokerMetadata(ctx)
				if err != nil {
					return cli.Explain(err, flags.options())
				}
				info := clusterFromMetadata(m)
				// Metadata names a live broker as controller (every broker
				// forwards admin requests, as in KRaft); the quorum knows the
				// active one.
				if q, err := quorumRequest().RequestWith(ctx, cl); err == nil && q.ErrorCode == 0 &&
					len(q.Topics) == 1 && len(q.Topics[0].Partitions) == 1 && q.Topics[0].Partitions[0].ErrorCode == 0 {
					c := q.Topics[0].Partitions[0].LeaderID
					info.Controller = &c
				}
				w := cmd.OutOrStdout()
				return of.print(w, info, func(bool) error { return writeClusterInfo(w, info) })
			})
		},
	}
}

func clusterFromMetadata(m kadm.Metadata) clusterInfo {
	info := clusterInfo{Brokers: make([]brokerInfo, 0, len(m.Brokers))}
	if m.Cluster != "" {
		id := m.Cluster
		info.ClusterID = &id
	}
	if m.Controller >= 0 {
		c := m.Controller
		info.Controller = &c
	}
	for _, b := range m.Brokers {
		info.Brokers = append(info.Brokers, brokerInfo{ID: b.NodeID, Host: b.Host, Port: b.Port, Rack: b.Rack})
	}
	return info
}

func writeClusterInfo(w io.Writer, info clusterInfo) error {
	id, controller := "(none reported)", "(unknown)"
	if info.ClusterID != nil {
		id = *info.ClusterID
	}
	if info.Controller != nil {
		controller = strconv.Itoa(int(*info.Controller))
	}
	fmt.Fprintf(w, "Cluster ID: %s\n", id)
	fmt.Fprintf(w, "Controller: %s\n", controller)
	fmt.Fprintf(w, "Brokers:    %d\n\n", len(info.Brokers))
	t := format.NewTable("ID", "HOST", "PORT", "RACK")
	for _, b := range info.Brokers {
		rack := "-"
		if b.Rack != nil {
			rack = *b.Rack
		}
		t.Row(strconv.Itoa(int(b.ID)), b.Host, strconv.Itoa(int(b.Port)), rack)
	}
	return t.Write(w)
}
