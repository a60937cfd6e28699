#!/usr/bin/perl
# An independent statement of stackcollapse-perf.pl's documented rules (peers.md §4), written for
# Kiln's tests to cross-check Perl regex and number semantics against the TypeScript collapser.
# Not FlameGraph's code. Usage: perl collapse-rules.pl [--pid|--tid|--kernel|--jit|--all|--addrs]
#   [--event-filter=EV] < perf-script.txt
use strict; use warnings; no warnings 'numeric';
my %o; my $want = '';
for (@ARGV) { if (/^--event-filter=(.*)$/) { $want = $1 } elsif (/^--(\w+)$/) { $o{$1} = 1 } }
$o{kernel} = $o{jit} = 1 if $o{all};
my (%sum, @frames, $root, $count, $firstdefault);
while (my $l = <STDIN>) {
  next if $l =~ /^#/;
  chomp $l;
  if ($l eq '') {
    if ($root) { $sum{ join ';', $root, @frames } += $count; }
    @frames = (); undef $root; next;
  }
  if ($l =~ /^(\S.+?)\s+(\d+)\/*(\d+)*\s+/) {
    my ($c, $p, $t) = ($1, $2, $3);
    if (!$t) { $t = $p; $p = '?' }
    my $n;
    if ($l =~ /:\s*(\d+)*\s+(\S+):\s*$/) {
      $n = $1;
      if ($want eq '') { $want = $2 } elsif ($2 ne $want) { next }
    }
    $count = $n ? $n : 1;
    $root = $o{tid} ? "$c-$p/$t" : $o{pid} ? "$c-$p" : $c;
    $root =~ s/ /_/g;
    next;
  }
  next unless $root;
  next unless $l =~ /^\s*(\w+)\s*(.+) \((.*)\)/;
  my ($ip, $sym, $dso) = ($1, $2, $3);
  $sym =~ s/\+0x[\da-f]+$//;
  next if substr($sym, 0, 1) eq '(';
  my @chain;
  for my $f (split /->/, $sym) {
    if ($f eq '[unknown]') {
      my $b = $dso eq '[unknown]' ? 'unknown' : ($dso =~ s/.*\///r);
      $f = $o{addrs} ? "[$b <$ip>]" : "[$b]";
    }
    $f =~ s/;/:/g;
    $f =~ s/\((?!anonymous namespace\)).*// unless $f =~ /\.\(.*\)\./;
    $f =~ s/["']//g;
    $f =~ s/^L// if $root =~ /^java/ && $f =~ /\//;
    if (@chain) { $f .= '_[i]' }
    elsif ($o{kernel} && $dso =~ /(^\[|vmlinux$)/ && $dso !~ /unknown/) { $f .= '_[k]' }
    elsif ($o{jit} && $dso =~ /\/tmp\/perf-\d+\.map/) { $f .= '_[j]' }
    push @chain, $f;
  }
  unshift @frames, @chain;
}
print "$_ $sum{$_}\n" for sort keys %sum;
