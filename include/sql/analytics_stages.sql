-- One cohort's journey stages: conversion, drop-off, time in stage (v_stage_funnel), in order.
SELECT * FROM v_stage_funnel WHERE cohort_id = :cohort_id ORDER BY stage_order
