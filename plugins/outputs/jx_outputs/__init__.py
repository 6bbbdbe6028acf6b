"""Standard result outputs for jx (绩效应用): ranking (排行榜), commendation (评先评优), leadership
review (班子评价), early warnings (预警), reports (Excel workbook, the 绩效之窗 site) and
``jx report`` / ``jx explain``. The service layer is :mod:`jx_outputs.services`."""
